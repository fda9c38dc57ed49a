/** Where phase 1 keeps a dataset's files in the store, under `datasets/<fingerprint[0:32]>/`. */
export const datasetKeys = (prefix: string) => {
  const chunkName = (chunk: number) => `chunk-${String(chunk).padStart(5, '0')}`;
  return {
    prefix,
    manifest: `${prefix}/manifest.json`,
    dataReport: `${prefix}/data-report.json`,
    quarantineList: `${prefix}/quarantine.jsonl`,
    arbitration: `${prefix}/arbitration/conflicts.csv`,
    resolutions: (digest: string) => `${prefix}/arbitration/resolutions-${digest.slice(0, 16)}.json`,
    rejected: `${prefix}/work/rejected.json`,
    /** The listed items of one chunk (JSON array of SourceItem). */
    chunkItems: (chunk: number) => `${prefix}/work/listing/${chunkName(chunk)}.json`,
    /** Decoded pixels of a chunk's accepted records, back to back. */
    chunkPixels: (chunk: number) => `${prefix}/work/chunks/${chunkName(chunk)}.pixels`,
    /** Written after the pixels: its presence means the chunk is finished. */
    chunkMeta: (chunk: number) => `${prefix}/work/chunks/${chunkName(chunk)}.meta.json`,
    plan: `${prefix}/work/plan.json`,
    shards: prefix,
  };
};
