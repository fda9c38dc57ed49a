import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { openStore } from '../../../../src/storage/open-store.js';
import type { ArtifactStore } from '../../../../src/storage/artifact-store.js';

/** A temp folder with files written as a user would (plain files, no store sidecars). */
export class TempTree {
  readonly dir: string;

  constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), 'dv-sources-'));
  }

  write(relative: string, content: string | Uint8Array = `bytes of ${relative}`): string {
    const file = path.join(this.dir, ...relative.split('/'));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
    return file;
  }

  path(relative = ''): string {
    return path.join(this.dir, ...relative.split('/').filter(Boolean));
  }

  uri(relative = ''): string {
    return pathToFileURL(this.path(relative)).href;
  }

  readonly open = (uri: string): ArtifactStore => openStore(uri, { cwd: this.dir });

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
