/**
 * The report's evaluation section from evaluation.json: headline figures, per-class scores,
 * ROC and precision-recall curves and the reliability diagram as inline SVG, and the Grad-CAM
 * overlays as data URIs (a file:// report is opened from disk, so nothing is linked).
 */
import type { EvaluationDocument } from './evaluation-document.js';

/** Points kept per drawn curve; the JSON keeps them all. */
const MAX_CURVE_POINTS = 200;
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const PLOT = { size: 300, pad: 36 };

export interface EvaluationHtmlInput {
  doc: EvaluationDocument;
  /** Overlay PNGs as data URIs, by their store URI; examples without one are listed as missing. */
  images: ReadonlyMap<string, string>;
  /** Where evaluation.json is. */
  evalUri: string;
}

export function renderEvaluationHtml({ doc, images, evalUri }: EvaluationHtmlInput): string {
  const pct = (x: number | null | undefined) => (x === null || x === undefined ? '—' : `${(x * 100).toFixed(2)}%`);
  const fixed = (x: number | null | undefined, digits = 4) => (x === null || x === undefined ? '—' : x.toFixed(digits));
  const topK = doc.topK.filter((t) => t.k > 1).map((t) => `<div class="kpi">top-${t.k} accuracy<b>${pct(t.accuracy)}</b></div>`).join('');
  const kpis = `<div class="kpi">macro F1<b>${pct(doc.macro.f1)}</b></div><div class="kpi">weighted F1<b>${pct(doc.weighted.f1)}</b></div><div class="kpi">micro F1<b>${pct(doc.micro.f1)}</b></div>${topK}<div class="kpi">macro ROC AUC<b>${fixed(doc.macro.rocAuc)}</b></div><div class="kpi">macro AP<b>${fixed(doc.macro.averagePrecision)}</b></div><div class="kpi">ECE (${doc.calibration.bins} bins)<b>${fixed(doc.calibration.ece)}</b></div>`;
  const rows = doc.perClass
    .map((c) => `<tr><td>${esc(c.className)}</td><td>${pct(c.precision)}</td><td>${pct(c.recall)}</td><td>${pct(c.f1)}</td><td>${fixed(c.rocAuc)}</td><td>${fixed(c.averagePrecision)}</td><td>${c.support}</td></tr>`)
    .join('');
  const averages = (['macro', 'weighted'] as const)
    .map((k) => `<tr><th>${k} average</th><td>${pct(doc[k].precision)}</td><td>${pct(doc[k].recall)}</td><td>${pct(doc[k].f1)}</td><td>${k === 'macro' ? fixed(doc.macro.rocAuc) : '—'}</td><td>${k === 'macro' ? fixed(doc.macro.averagePrecision) : '—'}</td><td>${doc.count}</td></tr>`)
    .join('');
  const roc = doc.curves.map((c, i) => ({ label: c.className, colour: colour(i), points: c.roc ? zip(c.roc.fpr, c.roc.tpr) : [] }));
  const pr = doc.curves.map((c, i) => ({ label: c.className, colour: colour(i), points: c.precisionRecall ? zip(c.precisionRecall.recall, c.precisionRecall.precision) : [] }));
  return `<div>${kpis}</div>
<h3>Per class</h3><table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>ROC AUC</th><th>AP</th><th>support</th></tr>${rows}${averages}</table>
<h3>ROC and precision-recall curves (one-vs-rest)</h3>
<div class="plots">${lineChart('ROC', 'false positive rate', 'true positive rate', roc, true)}${lineChart('Precision-recall', 'recall', 'precision', pr, false)}</div>
<p class="legend">${doc.curves.map((c, i) => `<span style="color:${colour(i)}">■</span> ${esc(c.className)}`).join(' &nbsp; ')}</p>
<h3>Calibration</h3><p>Expected calibration error ${fixed(doc.calibration.ece)}: the count-weighted gap between confidence (the top probability) and accuracy over ${doc.calibration.bins} equal-width bins. Blue bars are accuracy, red ticks mean confidence; shading marks over-confidence.</p>
${reliabilityDiagram(doc)}
<h3>Grad-CAM</h3>${renderGradCam(doc, images)}
<p class="muted">All figures and full curves: <code>${esc(evalUri)}</code>; recomputable from <code>${esc(doc.predictionsUri)}</code> (see <code>evaluateSavedPredictions</code>).</p>`;
}

function renderGradCam(doc: EvaluationDocument, images: ReadonlyMap<string, string>): string {
  const g = doc.gradCam;
  if (g.examples.length === 0) return `<p>No heatmaps: ${esc(g.skipped ?? 'none were made')}.</p>`;
  const figure = (e: EvaluationDocument['gradCam']['examples'][number]) => {
    const src = images.get(e.uri);
    const img = src === undefined ? `<div class="muted">(missing: <code>${esc(e.uri)}</code>)</div>` : `<img src="${src}" alt="Grad-CAM of test image ${e.index}">`;
    const verdict = e.correct ? `<span class="pass">${esc(e.predictedClassName)}</span>` : `<span class="fail">predicted ${esc(e.predictedClassName)}</span>`;
    return `<figure>${img}<figcaption>#${e.index}: true ${esc(e.trueClassName)}, ${verdict}, p=${e.probability.toFixed(3)}</figcaption></figure>`;
  };
  const byClass = doc.classNames
    .map((name, c) => {
      const mine = g.examples.filter((e) => e.trueClass === c);
      if (mine.length === 0) return '';
      const correct = mine.filter((e) => e.correct);
      const wrong = mine.filter((e) => !e.correct);
      return `<h4>class ${esc(name)}</h4><div class="thumbs cams">${[...correct, ...wrong].map(figure).join('')}</div>`;
    })
    .join('');
  return `<p>Layer <code>${esc(g.layer ?? '?')}</code> (${g.height ?? '?'}×${g.width ?? '?'} feature map); for each true class up to ${g.examplesPerClass} correctly classified and ${g.examplesPerClass} misclassified test images, the most confident first, each explained for its predicted class (red: most evidence).${g.skipped ? ` ${esc(g.skipped)}` : ''}</p>${byClass}`;
}

function reliabilityDiagram(doc: EvaluationDocument): string {
  const { size, pad } = PLOT;
  const inner = size - 2 * pad;
  const x = (v: number) => pad + v * inner;
  const y = (v: number) => size - pad - v * inner;
  const bars = doc.calibration.reliability
    .map((b) => {
      if (b.accuracy === null || b.meanConfidence === null) return '';
      const w = (b.upper - b.lower) * inner;
      // Over-confidence (confidence above accuracy) is shaded above the bar; a red tick marks the mean confidence.
      const gap = b.meanConfidence > b.accuracy ? `<rect x="${x(b.lower).toFixed(1)}" y="${y(b.meanConfidence).toFixed(1)}" width="${w.toFixed(1)}" height="${((b.meanConfidence - b.accuracy) * inner).toFixed(1)}" fill="rgba(214,39,40,.3)"/>` : '';
      const tick = `<line x1="${x(b.lower).toFixed(1)}" x2="${(x(b.lower) + w).toFixed(1)}" y1="${y(b.meanConfidence).toFixed(1)}" y2="${y(b.meanConfidence).toFixed(1)}" stroke="#d62728" stroke-width="2"/>`;
      return `<rect x="${x(b.lower).toFixed(1)}" y="${y(b.accuracy).toFixed(1)}" width="${w.toFixed(1)}" height="${(b.accuracy * inner).toFixed(1)}" fill="#1f77b4" stroke="#fff"><title>${b.lower.toFixed(2)}-${b.upper.toFixed(2)}: ${b.count} images, accuracy ${b.accuracy.toFixed(3)}, confidence ${b.meanConfidence.toFixed(3)}</title></rect>${gap}${tick}`;
    })
    .join('');
  return `<svg class="chart" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" role="img" aria-label="Reliability diagram">${axes('confidence', 'accuracy')}${bars}<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#777" stroke-dasharray="4 3"/><text x="${size / 2}" y="14" text-anchor="middle" font-size="12">Reliability diagram</text></svg>`;
}

interface Series {
  label: string;
  colour: string;
  points: [number, number][];
}

function lineChart(title: string, xLabel: string, yLabel: string, series: Series[], diagonal: boolean): string {
  const { size, pad } = PLOT;
  const inner = size - 2 * pad;
  const x = (v: number) => (pad + v * inner).toFixed(1);
  const y = (v: number) => (size - pad - v * inner).toFixed(1);
  const lines = series
    .filter((s) => s.points.length > 0)
    .map((s) => `<polyline fill="none" stroke="${s.colour}" stroke-width="1.5" points="${thin(s.points).map(([a, b]) => `${x(a)},${y(b)}`).join(' ')}"><title>${esc(s.label)}</title></polyline>`)
    .join('');
  const diag = diagonal ? `<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#bbb" stroke-dasharray="4 3"/>` : '';
  return `<svg class="chart" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" role="img" aria-label="${esc(title)}">${axes(xLabel, yLabel)}${diag}${lines}<text x="${size / 2}" y="14" text-anchor="middle" font-size="12">${esc(title)}</text></svg>`;
}

function axes(xLabel: string, yLabel: string): string {
  const { size, pad } = PLOT;
  const inner = size - 2 * pad;
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((t) => {
      const px = pad + t * inner;
      const py = size - pad - t * inner;
      return `<line x1="${px}" y1="${size - pad}" x2="${px}" y2="${size - pad + 4}" stroke="#444"/><text x="${px}" y="${size - pad + 15}" text-anchor="middle" font-size="10">${t}</text><line x1="${pad - 4}" y1="${py}" x2="${pad}" y2="${py}" stroke="#444"/><text x="${pad - 6}" y="${py + 3}" text-anchor="end" font-size="10">${t}</text><line x1="${pad}" y1="${py}" x2="${size - pad}" y2="${py}" stroke="#eee"/>`;
    })
    .join('');
  return `<rect x="${pad}" y="${pad}" width="${inner}" height="${inner}" fill="none" stroke="#444"/>${ticks}<text x="${size / 2}" y="${size - 4}" text-anchor="middle" font-size="11">${esc(xLabel)}</text><text transform="translate(11 ${size / 2}) rotate(-90)" text-anchor="middle" font-size="11">${esc(yLabel)}</text>`;
}

/** Evenly spaced points, the first and last always kept. */
export function thin<T>(points: readonly T[], max = MAX_CURVE_POINTS): T[] {
  if (points.length <= max) return [...points];
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(points[Math.round((i * (points.length - 1)) / (max - 1))] as T);
  return out;
}

function zip(xs: readonly number[], ys: readonly number[]): [number, number][] {
  return xs.map((v, i) => [v, ys[i] ?? 0]);
}

function colour(i: number): string {
  return PALETTE[i % PALETTE.length] as string;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}
