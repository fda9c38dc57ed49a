import type { ArtifactStore } from '../storage/artifact-store.js';

/** Reads a JSON artifact the activities wrote themselves (their own format, so no schema check). */
export async function readJson<T>(store: ArtifactStore, key: string): Promise<T> {
  return JSON.parse((await store.get(key)).toString('utf8')) as T;
}
