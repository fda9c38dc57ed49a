import { describe, expect, it } from 'vitest';
import { EVALUATION_FORMAT, resolvedOptions, type EvaluationDocument } from '../../../src/activities/evaluation-document.js';
import { renderEvaluationHtml, thin } from '../../../src/activities/report-evaluation-html.js';
import { evaluateProbabilities } from '../../../src/core/evaluation/index.js';

const CLASSES = ['cat', 'dog', 'fox'];
const PROBS = Float32Array.from([0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.9, 0.05, 0.05, 0.2, 0.2, 0.6, 0.3, 0.45, 0.25, 0.6, 0.3, 0.1]);
const LABELS = Int32Array.from([0, 1, 2, 2, 2, 0]);

function doc(gradCam: EvaluationDocument['gradCam']): EvaluationDocument {
  const metrics = evaluateProbabilities(PROBS, LABELS, CLASSES, { calibrationBins: 5 });
  return {
    format: EVALUATION_FORMAT, version: 1, ...metrics, backend: 'cpu', classes: CLASSES, macroF1: metrics.macro.f1,
    predictionsUri: 'file:///r/test-probabilities.f32', predictionsHeaderUri: 'file:///r/test-probabilities.f32.json', options: resolvedOptions(3, 5), gradCam,
  };
}

describe('renderEvaluationHtml', () => {
  it('draws one curve per class in each chart, a bar per non-empty reliability bin, and the overlays with their captions', () => {
    const example = { index: 2, trueClass: 2, trueClassName: 'fox', predictedClass: 0, predictedClassName: 'cat', probability: 0.9, correct: false, explainedClass: 0, uri: 'file:///r/grad-cam/a.png' };
    const d = doc({ enabled: true, layer: 'conv2', height: 5, width: 5, examplesPerClass: 1, examples: [example] });
    const html = renderEvaluationHtml({ doc: d, images: new Map([[example.uri, 'data:image/png;base64,AAAA']]), evalUri: 'file:///r/evaluation.json' });
    expect(html.match(/<polyline /g)).toHaveLength(6);
    const filled = d.calibration.reliability.filter((b) => b.count > 0).length;
    expect(html.match(/<rect [^>]*fill="#1f77b4"/g)).toHaveLength(filled);
    expect(html).toContain('<img src="data:image/png;base64,AAAA" alt="Grad-CAM of test image 2">');
    expect(html).toContain('#2: true fox, <span class="fail">predicted cat</span>, p=0.900');
    expect(html).toContain(`ECE (5 bins)<b>${d.calibration.ece.toFixed(4)}</b>`);
    expect(html).toContain('<h4>class fox</h4>');
    expect(html).not.toContain('<h4>class cat</h4>');
  });

  it('says why there are no heatmaps', () => {
    const html = renderEvaluationHtml({ doc: doc({ enabled: true, examplesPerClass: 2, examples: [], skipped: 'Grad-CAM failed: model vit_tiny has no 4-D feature map' }), images: new Map(), evalUri: 'e' });
    expect(html).toContain('No heatmaps: Grad-CAM failed: model vit_tiny has no 4-D feature map.');
  });
});

describe('thin', () => {
  it('keeps the first and last points and at most max in all', () => {
    const points = Array.from({ length: 1001 }, (_, i) => i);
    const kept = thin(points, 11);
    expect(kept).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(thin([1, 2, 3], 11)).toEqual([1, 2, 3]);
  });
});
