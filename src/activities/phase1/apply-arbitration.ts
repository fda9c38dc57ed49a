/**
 * Checks an arbitration that arrived by signal and turns it into per-image label overrides
 * stored beside the dataset. A bad file fails this activity with a message naming the line and
 * value; the workflow reports it and keeps waiting for a corrected one.
 */
import { createHash } from 'node:crypto';
import type { LabelPlan } from '../../core/manifests.js';
import { addThirdAnnotations, parseArbitrationCsv, resolveLabels } from '../../data/label-qa.js';
import { SourceError, type SourceItem } from '../../data/sources/list-sources.js';
import { locateFile } from '../../data/sources/locate.js';
import type { Logger } from '../logger.js';
import type { StoreCache } from '../store-cache.js';
import { readJson } from '../store-json.js';
import type { ApplyArbitrationInput } from '../types.js';
import { datasetKeys } from './dataset-keys.js';

export function createApplyArbitration({ stores, logger }: { stores: StoreCache; logger: Logger }) {
  return async function applyArbitration(input: ApplyArbitrationInput): Promise<Omit<LabelPlan, 'paused'>> {
    const { request, listing } = input;
    const given = [request.resolutionsUri, request.thirdAnnotatorUri, request.decision].filter((v) => v !== undefined);
    if (given.length !== 1) {
      throw new SourceError(`an arbitration needs exactly one of resolutionsUri, thirdAnnotatorUri or decision, got ${JSON.stringify(request)}`);
    }
    if (request.decision !== undefined) {
      if (request.decision !== 'majority' && request.decision !== 'drop') {
        throw new SourceError(`arbitration decision must be majority or drop, got ${JSON.stringify(request.decision)}`);
      }
      return { rule: request.decision, how: `rule:${request.decision}` };
    }

    const store = stores.open(input.storeUri);
    const keys = datasetKeys(listing.prefix, listing.chunkSize);
    const items = await readJson<SourceItem[]>(store, keys.conflicts);
    const conflicted = new Set(items.map((i) => i.id));
    const open = (uri: string) => stores.open(uri);

    let overrides: Map<string, string>;
    let source: string;
    if (request.resolutionsUri !== undefined) {
      source = request.resolutionsUri;
      const file = locateFile(request.resolutionsUri, open, 'arbitration file');
      overrides = parseArbitrationCsv(await file.folder.get(file.key), file.uri, listing.classes, conflicted);
    } else {
      source = request.thirdAnnotatorUri as string;
      const { items: annotated } = await addThirdAnnotations(items, source, listing.classes, conflicted, open);
      overrides = new Map();
      for (const decision of resolveLabels(annotated, 'majority')) {
        if (decision.label !== undefined) overrides.set(decision.id, decision.label);
      }
    }
    const body = JSON.stringify({ source, overrides: Object.fromEntries(overrides) }, null, 2);
    const key = keys.resolutions(createHash('sha256').update(body).digest('hex'));
    await store.put(key, body, { contentType: 'application/json' });
    logger.info(`arbitration from ${source} settles ${overrides.size} of ${conflicted.size} conflicted images; the rest are set aside`, { runId: input.runId });
    // Conflicts the arbitration left open are dropped: nobody vouched for a label.
    return { rule: 'drop', resolutionsUri: store.uriOf(key), how: 'arbitration' };
  };
}
