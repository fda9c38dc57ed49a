import { describe, expect, it } from 'vitest';
import { evaluateSavedPredictions } from '../../../src/activities/evaluation-document.js';
import { loadPredictions, predictionsHeaderKey, savePredictions } from '../../../src/activities/saved-predictions.js';
import { evaluateProbabilities, selectExplanationExamples } from '../../../src/core/evaluation/index.js';
import { MemoryArtifactStore } from '../data/memory-store.js';

const CLASSES = ['cat', 'dog', 'fox'];
// Rows sum to 1 in float32; image 2 is a confident mistake (a fox taken for a cat), image 4 a mild one.
const PROBS = Float32Array.from([0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.9, 0.05, 0.05, 0.2, 0.2, 0.6, 0.3, 0.45, 0.25, 0.6, 0.3, 0.1]);
const LABELS = Int32Array.from([0, 1, 2, 2, 2, 0]);
const KEY = 'runs/r1/test-probabilities.f32';

describe('saved predictions', () => {
  it('round-trips probabilities, labels and classes, and recomputes the same metrics bit for bit', async () => {
    const store = new MemoryArtifactStore();
    const { uri, headerUri } = await savePredictions(store, KEY, PROBS, LABELS, CLASSES);
    expect(headerUri).toBe(store.uriOf(predictionsHeaderKey(KEY)));
    // The data file is plain little-endian float32, readable without the header.
    expect((await store.get(KEY)).byteLength).toBe(PROBS.length * 4);
    const loaded = await loadPredictions(store, uri);
    expect(Array.from(loaded.probabilities)).toEqual(Array.from(PROBS));
    expect(Array.from(loaded.labels)).toEqual(Array.from(LABELS));
    expect(loaded.classes).toEqual(CLASSES);
    expect(await evaluateSavedPredictions(store, uri, { calibrationBins: 5 })).toEqual(evaluateProbabilities(PROBS, LABELS, CLASSES, { calibrationBins: 5 }));
  });

  it('follows an evaluation.json to its predictions and options', async () => {
    const store = new MemoryArtifactStore();
    const { uri } = await savePredictions(store, KEY, PROBS, LABELS, CLASSES);
    await store.put('runs/r1/evaluation.json', JSON.stringify({ predictionsUri: uri, options: { topK: [1, 2], calibrationBins: 4 } }));
    const report = await evaluateSavedPredictions(store, store.uriOf('runs/r1/evaluation.json'));
    expect(report.topK.map((t) => t.k)).toEqual([1, 2]);
    expect(report.calibration.bins).toBe(4);
    await store.put('runs/r1/other.json', '{}');
    await expect(evaluateSavedPredictions(store, store.uriOf('runs/r1/other.json'))).rejects.toThrow(/predictionsUri is undefined, expected the URI of the saved probabilities/);
  });

  it('detects a truncated or replaced file, a missing header and labels that do not match', async () => {
    const store = new MemoryArtifactStore();
    const { uri } = await savePredictions(store, KEY, PROBS, LABELS, CLASSES);
    const whole = await store.get(KEY);
    await store.put(KEY, whole.subarray(0, 40));
    await expect(loadPredictions(store, uri)).rejects.toThrow(`predictions ${uri}: byte length is 40, but its header ${store.uriOf(`${KEY}.json`)} says 72`);
    const flipped = Buffer.from(whole);
    flipped[5] = (flipped[5] ?? 0) ^ 1;
    await store.put(KEY, flipped);
    await expect(loadPredictions(store, uri)).rejects.toThrow(/sha256 is "[0-9a-f]{64}", but its header .* says/);
    await store.put(KEY, whole);
    await expect(evaluateSavedPredictions(store, uri, { expected: { labels: [0, 1, 2, 2, 1, 0] } })).rejects.toThrow(`predictions ${uri}: labels[4] is 2, expected 1`);
    await expect(evaluateSavedPredictions(store, uri, { expected: { classes: ['a', 'b', 'c'] } })).rejects.toThrow('classes are ["cat","dog","fox"], expected ["a","b","c"]');
    await store.delete(`${KEY}.json`);
    await expect(loadPredictions(store, uri)).rejects.toThrow(/header .* is missing/);
  });

  it('refuses a header whose shape does not add up', async () => {
    const store = new MemoryArtifactStore();
    const { uri } = await savePredictions(store, KEY, PROBS, LABELS, CLASSES);
    const header = JSON.parse((await store.get(`${KEY}.json`)).toString('utf8')) as Record<string, unknown>;
    await store.put(`${KEY}.json`, JSON.stringify({ ...header, numClasses: 4 }));
    await expect(loadPredictions(store, uri)).rejects.toThrow('numClasses is 4, expected 3 (the number of classes listed)');
    await store.put(`${KEY}.json`, JSON.stringify({ ...header, dtype: 'float16' }));
    await expect(loadPredictions(store, uri)).rejects.toThrow('dtype is "float16", expected "float32"');
  });
});

describe('selectExplanationExamples', () => {
  it('takes the most confident correct and wrong images per class, rank by rank, within the cap', () => {
    const all = selectExplanationExamples(PROBS, LABELS, 3, 2);
    expect(all.map((e) => [e.index, e.correct])).toEqual([
      [0, true], [1, true], [3, true], [2, false], // rank 0: cat correct, dog correct, fox correct, fox wrong (0.9 beats 0.45)
      [5, true], [4, false], // rank 1: the second cat, the second fox mistake
    ]);
    expect(all[3]).toEqual({ index: 2, trueClass: 2, predictedClass: 0, confidence: PROBS[6], correct: false });
    expect(selectExplanationExamples(PROBS, LABELS, 3, 2, 3).map((e) => e.index)).toEqual([0, 1, 3]);
    expect(() => selectExplanationExamples(PROBS, LABELS, 3, 0)).toThrow('examplesPerClass must be an integer >= 1, got 0');
  });
});
