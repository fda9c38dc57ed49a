import { readFile } from 'node:fs/promises';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigError, parsePipelineConfig, type PipelineConfig } from '../core/config.js';

/** Reads and validates a YAML (or JSON) config file; no file means the embedded defaults. */
export async function loadConfig(path?: string): Promise<PipelineConfig> {
  if (!path) return parsePipelineConfig({}, 'embedded defaults');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`cannot read config file ${path}: ${code === 'ENOENT' ? 'no such file' : String(err)}`, []);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
    throw new ConfigError(`${path}: not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`, []);
  }
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new ConfigError(`${path}: expected a mapping of sections (dataset, model, training, validation), got ${Array.isArray(raw) ? 'a list' : typeof raw}`, []);
  }
  return parsePipelineConfig(raw ?? {}, path);
}
