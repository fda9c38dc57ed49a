/** Where phase 1 keeps a dataset's files in the store, under `datasets/<fingerprint[0:32]>/`. */
/**
 * `chunkSize` is part of the work keys: chunk files of a run with another chunk size (a crashed
 * run, retried with a new setting) hold other images under the same numbers and must not be reused.
 */
export const datasetKeys = (prefix: string, chunkSize: number) => {
  const chunkName = (chunk: number) => `chunk-${String(chunk).padStart(5, '0')}`;
  return {
    prefix,
    manifest: `${prefix}/manifest.json`,
    dataReport: `${prefix}/data-report.json`,
    quarantineList: `${prefix}/quarantine.jsonl`,
    arbitration: `${prefix}/arbitration/conflicts.csv`,
    /** The conflicted items (JSON array of SourceItem). */
    conflicts: `${prefix}/arbitration/conflicts.json`,
    resolutions: (digest: string) => `${prefix}/arbitration/resolutions-${digest.slice(0, 16)}.json`,
    rejected: `${prefix}/work/rejected.json`,
    /** The listed items of one chunk (JSON array of SourceItem). */
    chunkItems: (chunk: number) => `${prefix}/work/chunks-${chunkSize}/${chunkName(chunk)}.items.json`,
    /** Decoded pixels of a chunk's accepted records, back to back. */
    chunkPixels: (chunk: number) => `${prefix}/work/chunks-${chunkSize}/${chunkName(chunk)}.pixels`,
    /** Written after the pixels: its presence means the chunk is finished. */
    chunkMeta: (chunk: number) => `${prefix}/work/chunks-${chunkSize}/${chunkName(chunk)}.meta.json`,
    plan: `${prefix}/work/chunks-${chunkSize}/plan.json`,
    shards: prefix,
  };
};
