/**
 * Grad-CAM overlays for the report: the most confident correct and misclassified test images of
 * every class (bounded by the config), each explained for its predicted class and written to the
 * store as a PNG.
 */
import type { EvaluationConfig } from '../core/config.js';
import { selectExplanationExamples } from '../core/evaluation/index.js';
import { overlayHeatmapPng } from '../data/heatmap-overlay.js';
import type { ImageBatchSource, ModelBytes, TrainingEngine } from '../ml/engine.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import type { GradCamExample, GradCamSection } from './evaluation-document.js';

/** Images per engine call, so heartbeats keep coming on big models. */
const GRAD_CAM_BATCH = 16;

export interface GradCamExamplesInput {
  engine: TrainingEngine;
  store: ArtifactStore;
  model: ModelBytes;
  test: ImageBatchSource;
  probabilities: Float32Array;
  classes: readonly string[];
  config: EvaluationConfig['gradCam'];
  /** Store key of an overlay file name. */
  keyOf: (name: string) => string;
  /** Called between batches (the activity heartbeats). */
  onProgress?: () => void;
}

/**
 * Never throws for a model or engine that cannot do Grad-CAM: the section then says why
 * (`skipped`), and the metrics stand without heatmaps.
 */
export async function gradCamExamples(input: GradCamExamplesInput): Promise<GradCamSection> {
  const { engine, config, classes, test } = input;
  const section: GradCamSection = { enabled: config.enabled, examplesPerClass: config.examplesPerClass, examples: [] };
  if (!config.enabled) return { ...section, skipped: 'turned off (evaluation.gradCam.enabled: false)' };
  if (engine.gradCam === undefined) return { ...section, skipped: `the ${engine.name} engine does not compute Grad-CAM` };
  const picks = selectExplanationExamples(input.probabilities, test.labels, classes.length, config.examplesPerClass, config.maxImages);
  const [h, w, c] = test.shape;
  const imageBytes = h * w * c;
  try {
    for (let start = 0; start < picks.length; start += GRAD_CAM_BATCH) {
      const batch = picks.slice(start, start + GRAD_CAM_BATCH);
      const result = await engine.gradCam({
        model: input.model,
        data: test,
        indices: batch.map((p) => p.index),
        classes: batch.map((p) => p.predictedClass),
        ...(config.layer !== undefined ? { layer: config.layer } : {}),
      });
      section.layer = result.layer;
      section.height = result.height;
      section.width = result.width;
      const cells = result.height * result.width;
      for (const [i, pick] of batch.entries()) {
        const png = await overlayHeatmapPng(
          test.images.subarray(pick.index * imageBytes, (pick.index + 1) * imageBytes),
          test.shape,
          result.heatmaps.subarray(i * cells, (i + 1) * cells),
          result.height,
          result.width,
          { size: config.size },
        );
        const name = `class-${pick.trueClass}-${pick.correct ? 'correct' : 'wrong'}-${pick.index}.png`;
        const info = await input.store.put(input.keyOf(name), png, { contentType: 'image/png' });
        const example: GradCamExample = {
          index: pick.index,
          trueClass: pick.trueClass,
          trueClassName: classes[pick.trueClass] ?? String(pick.trueClass),
          predictedClass: pick.predictedClass,
          predictedClassName: classes[pick.predictedClass] ?? String(pick.predictedClass),
          probability: pick.confidence,
          correct: pick.correct,
          explainedClass: result.classes[i] ?? pick.predictedClass,
          uri: info.uri,
        };
        section.examples.push(example);
      }
      input.onProgress?.();
    }
  } catch (error) {
    // A model without a usable feature map (ViT) or a layer name that does not fit the model:
    // the run keeps its metrics and the report says why there are no heatmaps.
    const reason = error instanceof Error ? error.message : String(error);
    return { ...section, examples: [], skipped: `Grad-CAM failed: ${reason}` };
  }
  if (picks.length === 0) section.skipped = 'no test images to explain';
  return section;
}
