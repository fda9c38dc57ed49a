import type { DataReport, PipelineResult } from '../core/manifests.js';
import { renderEvaluationHtml, type EvaluationHtmlInput } from './report-evaluation-html.js';

/** A self-contained HTML page (no scripts, no external assets) summarising one run. */
export function renderReportHtml(
  result: Omit<PipelineResult, 'reportUri' | 'reportHtmlUri'>,
  times: { startedAt: string; finishedAt: string },
  data?: DataReport,
  /** evaluation.json and its Grad-CAM overlays; without it section 4 shows the EvalReport's figures. */
  evaluationDetail?: EvaluationHtmlInput,
): string {
  const { dataset, plan, training, evaluation, validation } = result;
  const pct = (x: number | undefined) => (x === undefined ? '—' : `${(x * 100).toFixed(2)}%`);
  const num = (x: number, digits = 1) => x.toLocaleString('en-US', { maximumFractionDigits: digits });
  const verdictRows = validation.verdicts
    .map((v) => `<tr><td>${esc(v.gate)}</td><td class="${v.passed ? 'pass' : 'fail'}">${v.passed ? 'pass' : 'FAIL'}</td><td>${esc(v.reason)}</td></tr>`)
    .join('');
  const historyRows = training.history
    .map(
      (h) =>
        `<tr><td>${h.epoch}</td><td>${h.loss.toFixed(4)}</td><td>${pct(h.accuracy)}</td><td>${h.valLoss === undefined ? '—' : h.valLoss.toFixed(4)}</td><td>${pct(h.valAccuracy)}</td><td>${num(h.imagesPerSecond, 0)}</td><td>${num(h.seconds)}</td></tr>`,
    )
    .join('');
  const classRows = evaluation.perClass
    .map((c) => `<tr><td>${esc(c.className)}</td><td>${pct(c.precision)}</td><td>${pct(c.recall)}</td><td>${pct(c.f1)}</td><td>${c.support}</td></tr>`)
    .join('');
  const maxCell = Math.max(1, ...evaluation.confusion.flat());
  const confusion = `<tr><th>actual \\ predicted</th>${dataset.classes.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>${evaluation.confusion
    .map(
      (row, i) =>
        `<tr><th>${esc(dataset.classes[i] ?? String(i))}</th>${row
          .map((v, j) => {
            const alpha = v === 0 ? 0 : 0.1 + 0.9 * (v / maxCell);
            const hue = i === j ? '34,139,34' : '200,40,40';
            return `<td style="background:rgba(${hue},${alpha.toFixed(3)})">${v}</td>`;
          })
          .join('')}</tr>`,
    )
    .join('')}`;
  const splitRows = (['train', 'val', 'test'] as const)
    .map((s) => `<tr><td>${s}</td><td>${dataset.splits[s].count}</td><td>${dataset.splits[s].perClass.join(' / ')}</td></tr>`)
    .join('');

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>durable-vision run ${esc(result.runId)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:980px;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.pass{color:#1a7f37;font-weight:600}.fail{color:#c0392b;font-weight:600}
.kpi{display:inline-block;margin:0 1.5rem 1rem 0}
.thumbs{display:flex;flex-wrap:wrap;gap:.5rem}.thumbs figure{margin:0;width:150px;font-size:11px;word-break:break-all}.thumbs img{image-rendering:pixelated;border:1px solid #ccc;max-width:96px}
.muted{color:#777}.kpi b{display:block;font-size:1.4rem}
.plots{display:flex;flex-wrap:wrap;gap:1rem}.chart{background:#fff}.legend{font-size:12px}
.thumbs.cams figure{width:130px}.thumbs.cams img{max-width:none;width:112px;image-rendering:auto}
code{background:#f4f4f4;padding:0 .25rem}
</style></head><body>
<h1>Run <code>${esc(result.runId)}</code> — ${validation.blessed ? '<span class="pass">blessed for deployment</span>' : '<span class="fail">not blessed</span>'}</h1>
<p>${esc(times.startedAt)} → ${esc(times.finishedAt)}</p>
<div class="kpi">test accuracy<b>${pct(evaluation.accuracy)}</b></div>
<div class="kpi">macro F1<b>${pct(evaluation.macroF1)}</b></div>
<div class="kpi">inference<b>${num(validation.throughputImgPerS, 0)} img/s</b></div>
<div class="kpi">latency p50 / p95<b>${validation.latencyMs.p50.toFixed(2)} / ${validation.latencyMs.p95.toFixed(2)} ms</b></div>
<h2>Deployment gates</h2><table><tr><th>gate</th><th>verdict</th><th>reason</th></tr>${verdictRows}</table>
<h2>1 · Data</h2>
<p>${dataset.stats.sourceImages} images from <code>${esc(dataset.sourceUri)}</code>, ${dataset.classes.length} classes, input ${dataset.inputShape.join('×')}, pixels scaled to [${dataset.scaling === '0-1' ? '0, 1' : '-1, 1'}]. Fingerprint <code>${esc(dataset.fingerprint.slice(0, 16))}</code>${dataset.stats.reused ? ' (shards reused from an earlier run)' : ''}.</p>
<table><tr><th>split</th><th>images</th><th>per class</th></tr>${splitRows}</table>
${data ? renderDataReport(data, dataset.classes) : ''}
<h2>2 · Model</h2><p><code>${esc(plan.architecture)}</code>, ${plan.paramsCount.toLocaleString('en-US')} parameters, width ×${plan.widthMultiplier}, dropout ${plan.dropout}.</p>
<h2>3 · Training</h2><p>Engine <code>${esc(training.engine)}</code> on backend <code>${esc(training.backend)}</code>${training.precision === 'bf16' ? ' under bf16 autocast' : ''}; ${training.epochsCompleted} epochs, best epoch ${training.bestEpoch}${training.resumedFromEpoch > 0 ? `; resumed from the epoch-${training.resumedFromEpoch} checkpoint after a failed attempt (attempt ${training.attempts})` : ''}.</p>
<table><tr><th>epoch</th><th>loss</th><th>accuracy</th><th>val loss</th><th>val accuracy</th><th>img/s</th><th>seconds</th></tr>${historyRows}</table>
<h2>4 · Evaluation on ${evaluation.count} test images</h2>
${evaluationDetail ? renderEvaluationHtml(evaluationDetail) : `<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>${classRows}</table>`}
<h3>Confusion matrix</h3><table>${confusion}</table>
<h2>5 · Validation for deployment</h2>
<p>Backend <code>${esc(validation.backend)}</code>: ${num(validation.throughputImgPerS, 0)} img/s at batch ${validation.batchSize}; batch-1 latency p50 ${validation.latencyMs.p50.toFixed(2)} ms, p95 ${validation.latencyMs.p95.toFixed(2)} ms, mean ${validation.latencyMs.mean.toFixed(2)} ms; worker peak RSS ${num(validation.peakRssMb, 0)} MB.</p>
</body></html>
`;
}

/** Phase 1's data report: balance, quarantine with examples, label QA, duplicates and outliers. */
export function renderDataReport(data: DataReport, classes: readonly string[]): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const thumbs = (examples: { uri: string; detail: string; thumbnail?: string; score?: number }[]) =>
    examples.length === 0
      ? ''
      : `<div class="thumbs">${examples
          .map(
            (e) =>
              `<figure>${e.thumbnail ? `<img src="${e.thumbnail}" alt="">` : '<div class="muted">(not decodable)</div>'}<figcaption><code>${esc(shortUri(e.uri))}</code>${e.score === undefined || e.detail.includes('score') ? '' : ` score ${e.score.toFixed(3)}`}<br>${esc(e.detail)}</figcaption></figure>`,
          )
          .join('')}</div>`;
  const balance = data.classBalance.map((c) => `<tr><td>${esc(c.className)}</td><td>${c.train}</td><td>${c.val}</td><td>${c.test}</td></tr>`).join('');
  const sources = data.sources.map((s) => `<tr><td>${esc(s.tag)}</td><td><code>${esc(s.uri)}</code></td><td>${s.images}</td></tr>`).join('');
  const quarantine = data.quarantine.length
    ? data.quarantine.map((q) => `<h4>${esc(q.reason)} — ${q.count}</h4>${thumbs(q.examples)}`).join('')
    : '<p>No image was quarantined.</p>';
  const qa = data.labelQa;
  const matrixMax = Math.max(1, ...qa.matrix.flat());
  const matrix = qa.multiplyAnnotated
    ? `<table><tr><th>annotator A \\ B</th>${classes.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>${qa.matrix
        .map(
          (row, i) =>
            `<tr><th>${esc(classes[i] ?? String(i))}</th>${row
              .map((v, j) => `<td style="background:rgba(${i === j ? '34,139,34' : '200,40,40'},${v === 0 ? 0 : (0.1 + 0.9 * (v / matrixMax)).toFixed(3)})">${v}</td>`)
              .join('')}</tr>`,
        )
        .join('')}</table>`
    : '';
  const qaText = qa.multiplyAnnotated
    ? `<p>${qa.conflicted} of ${qa.multiplyAnnotated} images labelled by two or more annotators disagree (${pct(qa.conflictRate)}; threshold ${pct(qa.threshold)}). ${
        qa.paused ? 'The run paused for arbitration' : 'The run did not pause'
      }; conflicts settled by <b>${esc(qa.resolution)}</b>${qa.dropped ? `, ${qa.dropped} left unresolved and quarantined` : ''}.${qa.arbitrationUri ? ` Conflicts: <code>${esc(qa.arbitrationUri)}</code>.` : ''}</p>`
    : '<p>No image has labels from more than one annotator.</p>';
  const perClassQa = qa.multiplyAnnotated
    ? `<table><tr><th>class</th><th>annotated</th><th>conflicted</th><th>rate</th></tr>${qa.perClass.map((c) => `<tr><td>${esc(c.className)}</td><td>${c.annotated}</td><td>${c.conflicted}</td><td>${pct(c.rate)}</td></tr>`).join('')}</table>`
    : '';
  const aug = data.augmentation;
  const policy = Object.entries(aug.policy).filter(([, v]) => v !== 0).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  return `<h3>Sources</h3><table><tr><th>source</th><th>URI</th><th>images</th></tr>${sources}</table>
<p>${data.inputCount} images in: <b>${data.accepted}</b> accepted, <b>${data.quarantined}</b> quarantined (every one listed with its reason in <code>${esc(data.quarantineListUri)}</code>).</p>
<h3>Class balance</h3><table><tr><th>class</th><th>train</th><th>val</th><th>test</th></tr>${balance}</table>
<h3>Label QA</h3>${qaText}${perClassQa}${matrix}
<h3>Duplicates</h3><p>${data.duplicates.exact} exact duplicates, ${data.duplicates.near} near duplicates (perceptual hash within ${data.duplicates.nearHamming} bits) and ${data.duplicates.leakage} training copies of held-out test images (leakage) quarantined.</p>
<h3>Outliers</h3><p>Isolation forest over ${data.outliers.scored} images, contamination ${data.outliers.contamination}: ${data.outliers.quarantined} quarantined${data.outliers.quarantined ? ` (score ≥ ${data.outliers.threshold.toFixed(3)})` : ''}. The most anomalous:</p>${thumbs(data.outliers.examples)}
<h3>Quarantine</h3>${quarantine}
<h3>Augmentation</h3><p>Offline ×${aug.offlineFactor}, online ${aug.online ? 'on' : 'off'}, seed ${aug.seed}; policy: ${esc(policy)}.</p>`;
}

function shortUri(uri: string): string {
  return uri.length > 60 ? `…${uri.slice(-58)}` : uri;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}
