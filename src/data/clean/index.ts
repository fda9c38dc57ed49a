/**
 * Phase-1 data-cleaning algorithms: pure functions over decoded pixels and hashes, no I/O.
 */
export { perceptualHash, hammingDistance, hashToHex, hexToHash } from './phash.js';
export { findNearDuplicates, findNearDuplicateWords } from './near-duplicates.js';
export { imageFeatures, featureVector, FEATURE_NAMES, FEATURE_VECTOR_NAMES, type ImageFeatures } from './features.js';
export { IsolationForest, contaminationThreshold, topOutliers, averagePathLength, type IsolationForestOptions } from './isolation-forest.js';
