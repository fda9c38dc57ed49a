/**
 * Phase 1, step 3: settle labels, remove exact and near duplicates (keeping held-out test
 * copies, so nothing leaks from test into training), quarantine isolation-forest outliers, and
 * split what is left, stratified and grouped. Works on the chunks' small meta records only;
 * pixels stay in the store until the shards are written.
 */
import { Context } from '@temporalio/activity';
import type { QuarantineReason } from '../../core/manifests.js';
import { FEATURE_VECTOR_NAMES, featureVector } from '../../data/clean/features.js';
import { IsolationForest, topOutliers } from '../../data/clean/isolation-forest.js';
import { hexToHash } from '../../data/clean/phash.js';
import { findVerifiedDuplicates } from '../../data/clean/verified-duplicates.js';
import { resolveLabels } from '../../data/label-qa.js';
import type { SourceRejection } from '../../data/sources/list-sources.js';
import { groupedStratifiedSplit } from '../../data/split.js';
import type { Logger } from '../logger.js';
import { readJson } from '../store-json.js';
import type { StoreCache } from '../store-cache.js';
import type { CleanDatasetInput, CleanSummary } from '../types.js';
import { datasetKeys } from './dataset-keys.js';
import { DatasetError } from './errors.js';
import type { ChunkMeta, DecodedRecord } from './prepare-chunk.js';

export const SPLIT_CODES = { train: 0, val: 1, test: 2 } as const;
export const QUARANTINED = -1;

/** Example images the data report shows, per quarantine reason. */
const EXAMPLES_PER_REASON = 6;
const OUTLIER_EXAMPLES = 8;

export interface ReportExample {
  reason: QuarantineReason;
  uri: string;
  source: string;
  detail: string;
  /** Where the decoded pixels are, when the image decoded. */
  chunk?: number;
  pixel?: number;
  score?: number;
}

export interface DatasetPlan {
  /** Per chunk, per decoded record (pixel order): split code or QUARANTINED. */
  assign: number[][];
  /** Per chunk, per decoded record: class index (or -1 when quarantined). */
  labels: number[][];
  examples: ReportExample[];
}

interface Entry {
  chunk: number;
  record: DecodedRecord;
  label: number;
  /** Quarantine reason once decided. */
  out?: { reason: QuarantineReason; detail: string };
}

export function createCleanDataset({ stores, logger }: { stores: StoreCache; logger: Logger }) {
  return async function cleanDataset(input: CleanDatasetInput): Promise<CleanSummary> {
    const ctx = Context.current();
    const store = stores.open(input.storeUri);
    const { dataset, listing } = input;
    const keys = datasetKeys(listing.prefix, listing.chunkSize);
    const classIndex = new Map(listing.classes.map((c, i) => [c, i]));

    // Everything quarantined, in one list: listing rejections, decode failures, then cleaning.
    const quarantine: { uri: string; source: string; reason: QuarantineReason; detail: string }[] = [];
    const rejected = await readJson<SourceRejection[]>(store, keys.rejected);
    for (const r of rejected) quarantine.push({ uri: r.uri, source: r.source, reason: r.reason, detail: r.detail });

    const overrides = new Map<string, string>();
    if (input.labels.resolutionsUri) {
      const resolutions = await readJson<{ overrides: Record<string, string> }>(store, store.keyOf(input.labels.resolutionsUri));
      for (const [id, label] of Object.entries(resolutions.overrides)) overrides.set(id, label);
    }

    const entries: Entry[] = [];
    const decodedPerChunk: number[] = [];
    let labelDropped = 0;
    for (let chunk = 0; chunk < listing.chunks; chunk++) {
      const meta = await readJson<ChunkMeta>(store, keys.chunkMeta(chunk));
      decodedPerChunk.push(meta.decoded);
      const decisions = resolveLabels(meta.records, input.labels.rule, overrides);
      meta.records.forEach((record, i) => {
        if (!record.ok) {
          quarantine.push({ uri: record.id, source: record.source, reason: record.reason, detail: record.detail });
          return;
        }
        const decision = decisions[i];
        const label = decision?.label === undefined ? undefined : classIndex.get(decision.label);
        const entry: Entry = { chunk, record, label: label ?? -1 };
        if (label === undefined) {
          labelDropped++;
          const said = record.annotations.map((a) => `${a.annotator}: ${a.label}`).join(', ');
          entry.out = { reason: 'label-conflict', detail: `annotators disagree (${said}); ${decision?.how === 'tie' ? 'no majority' : 'conflicts are dropped'}` };
        }
        entries.push(entry);
      });
      if (chunk % 8 === 0) ctx.heartbeat({ stage: 'read chunk records', done: chunk, total: listing.chunks });
    }

    const live = () => entries.filter((e) => e.out === undefined);
    const isTest = (e: Entry) => e.record.splitHint === 'test';
    const examples: ReportExample[] = [];

    /**
     * Keeps one image of a duplicate set. A held-out test copy wins, and training copies of it
     * are quarantined as leakage; identical content with different labels keeps nothing.
     */
    const resolveGroup = (group: Entry[], kind: 'duplicate' | 'near-duplicate', counts: { dup: number; leakage: number; conflict: number }) => {
      const labels = new Set(group.map((e) => e.label));
      if (kind === 'duplicate' && labels.size > 1) {
        const said = group.map((e) => `${e.record.id} as ${listing.classes[e.label] ?? '?'}`).join(', ');
        for (const e of group) e.out = { reason: 'label-conflict', detail: `identical images labelled differently: ${said}` };
        counts.conflict += group.length;
        return;
      }
      // Near duplicates of different classes may be genuinely different: each class is its own set.
      for (const label of labels) {
        const members = group.filter((e) => e.label === label);
        if (members.length < 2) continue;
        const tests = members.filter(isTest);
        const keep = tests[0] ?? members[0]!;
        for (const e of members) {
          if (e === keep) continue;
          if (tests.length > 0 && !isTest(e)) {
            e.out = { reason: 'leakage', detail: `${kind === 'duplicate' ? 'identical to' : 'near-duplicate of'} held-out test image ${keep.record.id}` };
            counts.leakage++;
          } else {
            e.out = { reason: kind, detail: `${kind === 'duplicate' ? 'identical to' : 'near-duplicate of'} ${keep.record.id}` };
            counts.dup++;
          }
        }
      }
    };

    const exact = { dup: 0, leakage: 0, conflict: 0 };
    if (dataset.dedup.exact) {
      const bySha = new Map<string, Entry[]>();
      for (const e of live()) {
        const sha = e.record.sha256;
        if (!sha) continue;
        const list = bySha.get(sha);
        if (list) list.push(e);
        else bySha.set(sha, [e]);
      }
      for (const group of bySha.values()) if (group.length > 1) resolveGroup(group, 'duplicate', exact);
    }
    const near = { dup: 0, leakage: 0, conflict: 0 };
    if (dataset.dedup.nearHamming >= 0) {
      const candidates = live();
      const clusters = findVerifiedDuplicates(
        candidates.map((e) => hexToHash(e.record.phash)),
        candidates.map((e) => Buffer.from(e.record.thumb, 'base64')),
        { maxDistance: dataset.dedup.nearHamming, minCorrelation: dataset.dedup.nearCorrelation },
      );
      for (const cluster of clusters) resolveGroup(cluster.map((i) => candidates[i]!), 'near-duplicate', near);
    }
    ctx.heartbeat({ stage: 'duplicates' });

    // Outliers: the forest scores every image; quarantine only within the configured scope.
    const embedding = dataset.outliers.embedding;
    const features = [...FEATURE_VECTOR_NAMES, ...Array.from({ length: embedding?.dims ?? 0 }, (_, k) => `embedding[${k}]`)];
    const outlierStats = { scored: 0, quarantined: 0, threshold: 1, features };
    const scorable = live();
    if (scorable.length >= 16) {
      const rows = scorable.map((e) => {
        const row = featureVector(e.record.features);
        if (!embedding) return row;
        const vector = e.record.embedding;
        if (vector?.length !== embedding.dims) {
          throw new Error(`chunk record ${e.record.id} has ${vector ? `a ${vector.length}-number` : 'no'} embedding; dataset.outliers.embedding asks for ${embedding.dims}`);
        }
        return row.concat(vector);
      });
      const forest = IsolationForest.fit(rows, { trees: dataset.outliers.trees, sampleSize: dataset.outliers.sampleSize, seed: dataset.split.seed });
      const scores = forest.scoreAll(rows);
      outlierStats.scored = scorable.length;
      const inScope = scorable.map((e, i) => ({ e, i })).filter(({ e }) => dataset.outliers.scope === 'all' || !isTest(e));
      const scopeScores = Float64Array.from(inScope, ({ i }) => scores[i] as number);
      const flagged = topOutliers(scopeScores, dataset.outliers.contamination);
      for (const k of flagged) {
        const { e, i } = inScope[k]!;
        const f = e.record.features;
        e.out = {
          reason: 'outlier',
          detail: `isolation-forest score ${(scores[i] as number).toFixed(3)} (blur ${f.blur.toFixed(0)}, brightness ${f.brightness.toFixed(0)}, contrast ${f.contrast.toFixed(0)}, entropy ${f.entropy.toFixed(2)}, ${f.width}x${f.height}, ${f.bytes} bytes${embedding ? `, ${embedding.dims}-number backbone embedding` : ''})`,
        };
        outlierStats.quarantined++;
      }
      if (flagged.length > 0) outlierStats.threshold = Math.min(...flagged.map((k) => scores[inScope[k]!.i] as number));
      // The report shows the most anomalous images, whether or not they were quarantined.
      const ranked = [...scores.keys()].sort((a, b) => (scores[b] as number) - (scores[a] as number)).slice(0, OUTLIER_EXAMPLES);
      for (const i of ranked) {
        const e = scorable[i]!;
        examples.push({ reason: 'outlier', uri: e.record.id, source: e.record.source, detail: e.out?.detail ?? 'kept (below the contamination cut)', chunk: e.chunk, pixel: e.record.pixel, score: scores[i] as number });
      }
    }

    // Split what is left: held-out test images stay test; the rest is split grouped and stratified.
    const kept = live();
    const pool = kept.filter((e) => !isTest(e));
    const hasTestSource = kept.some(isTest);
    const testFraction = hasTestSource ? 0 : dataset.split.test;
    const parts = groupedStratifiedSplit(
      Int32Array.from(pool, (e) => e.label),
      pool.map((e) => e.record.group),
      { train: 1 - dataset.split.val - testFraction, val: dataset.split.val, test: testFraction },
      dataset.split.seed,
    );
    const assign = decodedPerChunk.map((n) => new Array<number>(n).fill(QUARANTINED));
    const labels = decodedPerChunk.map((n) => new Array<number>(n).fill(-1));
    const counts = { train: 0, val: 0, test: 0 };
    const place = (e: Entry, split: keyof typeof SPLIT_CODES) => {
      assign[e.chunk]![e.record.pixel] = SPLIT_CODES[split];
      labels[e.chunk]![e.record.pixel] = e.label;
      counts[split]++;
    };
    for (const split of ['train', 'val', 'test'] as const) for (const i of parts[split]) place(pool[i]!, split);
    for (const e of kept) if (isTest(e)) place(e, 'test');

    for (const e of entries) if (e.out) quarantine.push({ uri: e.record.id, source: e.record.source, ...e.out });
    const byReason: CleanSummary['byReason'] = {};
    for (const q of quarantine) byReason[q.reason] = (byReason[q.reason] ?? 0) + 1;
    const shown = new Map<QuarantineReason, number>();
    const entryById = new Map(entries.map((e) => [e.record.id, e]));
    for (const q of quarantine) {
      if (q.reason === 'outlier') continue;
      const n = shown.get(q.reason) ?? 0;
      if (n >= EXAMPLES_PER_REASON) continue;
      shown.set(q.reason, n + 1);
      const e = entryById.get(q.uri);
      examples.push({ ...q, ...(e ? { chunk: e.chunk, pixel: e.record.pixel } : {}) });
    }

    const inputCount = listing.items;
    const accepted = counts.train + counts.val + counts.test;
    if (accepted + quarantine.length !== inputCount) {
      throw new Error(`phase 1 lost track of images: ${inputCount} listed, ${accepted} accepted + ${quarantine.length} quarantined`);
    }
    await store.put(keys.quarantineList, quarantine.map((q) => JSON.stringify(q)).join('\n') + (quarantine.length ? '\n' : ''), { contentType: 'application/x-ndjson' });
    const fraction = inputCount === 0 ? 0 : quarantine.length / inputCount;
    if (fraction > dataset.quarantine.maxFraction) {
      const reasons = Object.entries(byReason).sort((a, b) => b[1] - a[1]).map(([r, n]) => `${r} ${n}`).join(', ');
      throw new DatasetError(
        `${listing.sourceUri}: ${quarantine.length} of ${inputCount} images quarantined (${(fraction * 100).toFixed(1)}%), above dataset.quarantine.maxFraction ${(dataset.quarantine.maxFraction * 100).toFixed(1)}% (${reasons}); every one is listed with its reason in ${store.uriOf(keys.quarantineList)}`,
      );
    }
    if (counts.train === 0) throw new DatasetError(`${listing.sourceUri}: no training images left after cleaning and splitting`);
    if (counts.test === 0) throw new DatasetError(`${listing.sourceUri}: no test images (add a test/ folder or set dataset.split.test > 0)`);

    const plan: DatasetPlan = { assign, labels, examples };
    await store.put(keys.plan, JSON.stringify(plan), { contentType: 'application/json' });
    logger.info(
      `cleaned: ${accepted} accepted (${counts.train} train / ${counts.val} val / ${counts.test} test), ${quarantine.length} quarantined` +
        `${quarantine.length ? ` (${Object.entries(byReason).map(([r, n]) => `${r} ${n}`).join(', ')})` : ''}`,
      { runId: input.runId },
    );
    return {
      planUri: store.uriOf(keys.plan),
      quarantineListUri: store.uriOf(keys.quarantineList),
      accepted,
      quarantined: quarantine.length,
      byReason,
      counts,
      duplicates: { exact: exact.dup, near: near.dup, leakage: exact.leakage + near.leakage },
      outliers: outlierStats,
      labelDropped: labelDropped + exact.conflict,
    };
  };
}
