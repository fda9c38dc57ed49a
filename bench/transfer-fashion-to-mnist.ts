/**
 * Transfer learning demonstration (issue #4).
 *
 * Part 1: small-cnn trained on Fashion-MNIST (clothing; 60k images, 3 epochs; kept in
 * .tools/cache/transfer/ and reused) is the backbone for MNIST digits with only 1,000 training
 * images. Every arm is the SAME network: small-cnn's layers up to CUT (default 'flatten': conv1,
 * pool1, conv2, pool2, flatten) plus the same new head (dropout 0.25 + dense 10), trained with
 * the same data, epochs, batch size, learning rate and seed; only the backbone's initial weights
 * (Fashion-MNIST vs random) and which backbone layers train differ: (a) Fashion init, frozen,
 * head only; (b) Fashion init, progressive unfreezing; (c) random init, all layers trained (from
 * scratch); (d) Fashion init, all layers trained (fine-tune). Seeds 7, 8, 9; all evaluated on
 * the 10,000 MNIST test images.
 *
 * Measured (wasm, 2 heavily shared cores; test accuracy, mean of 3 seeds), CUT=flatten:
 * (a) 94.83%, (b) 95.03%, (c) 94.06%, (d) 95.19%: every transfer arm beats from scratch.
 * CUT=fc1: (a) 78.83%, (b) 93.04%, (c) 94.40%, (d) 94.91%: fc1's 128 units are specific to
 * clothing, so only full fine-tuning beats from scratch.
 *
 * Part 2: nsfwjs@4.3.0's MobileNetV2 (ImageNet weights fine-tuned by nsfwjs for 5 content
 * classes: drawing, hentai, neutral, porn, sexy) cut at 'out_relu' (1280-d) at 96x96x3, as a
 * frozen feature extractor + head on MNIST digits resized to 96x96x3, vs the same MobileNetV2
 * topology randomly initialised and trained whole.
 *
 * ENGINE=torch trains every arm on the torch engine (PyTorch on CPU, THREADS threads, default 2;
 * `node scripts/install-torch.mjs`): the same tfjs model.json backbones, rebuilt in PyTorch. The
 * Fashion-MNIST backbone itself is trained by the tfjs engine either way.
 *
 * Needs Fashion-MNIST: node scripts/install-fashion-mnist.mjs
 * Run: node bin/run-ts.mjs bench/transfer-fashion-to-mnist.ts
 * Sizes: FASHION_COUNT (60000), FASHION_EPOCHS (3), EPOCHS (8), LR (0.002), SEEDS (7,8,9), MNV2_EPOCHS (3), MNV2_TEST (1000); CUT (flatten | fc1).
 * PART: mnist (default, part 1), mobilenet (part 2) or all.
 */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { PROJECT_ROOT } from '../infra/tools.js';
import { type MnistSplitData, readFashionMnistSplit, readMnistSplit } from '../src/data/mnist-idx.js';
import { initBackend } from '../src/ml/backend.js';
import { buildModel } from '../src/ml/build-model.js';
import type { ImageBatchSource, ModelSpec, TrainSpec, UnfreezeStep } from '../src/ml/engine.js';
import { modelFromBytes } from '../src/ml/model-bytes.js';
import { createTorchEngine } from '../src/ml/torch-engine.js';
import { evaluate, runTraining } from '../src/ml/train-loop.js';
import { loadLayersModelFromFiles, modelArtifacts, nsfwjsMobileNetV2Artifacts, writeModelFiles } from '../src/ml/transfer.js';

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const FASHION_COUNT = env('FASHION_COUNT', 60_000);
const FASHION_EPOCHS = env('FASHION_EPOCHS', 3);
const EPOCHS = env('EPOCHS', 8);
const MNV2_EPOCHS = env('MNV2_EPOCHS', 3);
const MNV2_TEST = env('MNV2_TEST', 1000);
const FEW = 1000;
const LR = env('LR', 2e-3);
const SEEDS = (process.env.SEEDS ?? '7,8,9').split(',').map(Number);
/** Backbone layer the head sits on in part 1: 'fc1' (128 units) or 'flatten' (the 1,600 conv features). */
const CUT = process.env.CUT ?? 'flatten';
/** 'mnist' (part 1, the default), 'mobilenet' (part 2) or 'all'. */
const PART = process.env.PART ?? 'mnist';
/** 'tfjs' (default) or 'torch': the engine that trains the arms. */
const ENGINE = process.env.ENGINE ?? 'tfjs';
if (ENGINE !== 'tfjs' && ENGINE !== 'torch') throw new Error(`ENGINE must be tfjs or torch, got ${ENGINE}`);
const torch = ENGINE === 'torch' ? createTorchEngine({ device: 'cpu', threads: env('THREADS', 2) }) : undefined;

/** Test accuracy and mean cross-entropy of class probabilities. */
function scoreProbabilities(probabilities: Float32Array, data: ImageBatchSource, classes: number): { accuracy: number; loss: number } {
  let correct = 0;
  let loss = 0;
  for (let i = 0; i < data.count; i++) {
    const row = probabilities.subarray(i * classes, (i + 1) * classes);
    let best = 0;
    for (let k = 1; k < classes; k++) if (row[k]! > row[best]!) best = k;
    if (best === data.labels[i]) correct++;
    loss -= Math.log(Math.max(row[data.labels[i]!]!, 1e-12));
  }
  return { accuracy: correct / data.count, loss: loss / data.count };
}

function source(data: MnistSplitData, count: number): ImageBatchSource {
  const n = Math.min(count, data.count);
  const size = data.rows * data.cols;
  return {
    images: data.pixels.slice(0, n * size),
    labels: Int32Array.from(data.labels.subarray(0, n)),
    count: n,
    shape: [data.rows, data.cols, 1],
    scaling: '0-1',
  };
}

/** Grey 28x28 images as bilinear-resized `side`x`side`x3 uint8 images. */
function toRgb(src: ImageBatchSource, side: number): ImageBatchSource {
  const [h, w] = src.shape;
  const out = new Uint8Array(src.count * side * side * 3);
  for (let start = 0; start < src.count; start += 100) {
    const n = Math.min(100, src.count - start);
    const values = tf.tidy(() => {
      const grey = tf.tensor4d(src.images.subarray(start * h * w, (start + n) * h * w), [n, h, w, 1], 'float32');
      return tf.image.resizeBilinear(grey, [side, side]).tile([1, 1, 1, 3]).round().clipByValue(0, 255);
    });
    out.set(values.dataSync(), start * side * side * 3);
    values.dispose();
  }
  return { images: out, labels: src.labels, count: src.count, shape: [side, side, 3], scaling: '0-1' };
}

interface Row { label: string; accuracy: number; loss: number; seconds: number; trainAcc: number }

async function trainAndTest(label: string, model: ModelSpec, spec: TrainSpec, train: ImageBatchSource, test: ImageBatchSource): Promise<Row> {
  const started = performance.now();
  let outcome;
  let metrics;
  if (torch !== undefined) {
    outcome = await torch.train({ model, spec, train, onEpochEnd: () => Promise.resolve() });
    metrics = scoreProbabilities(await torch.predict(outcome.model, test), test, model.numClasses);
  } else {
    outcome = await runTraining({ model, spec, train, onEpochEnd: () => Promise.resolve() });
    const trained = await modelFromBytes(outcome.model);
    metrics = evaluate(trained, test);
    trained.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  const result = { label, accuracy: metrics.accuracy, loss: metrics.loss, seconds, trainAcc: outcome.history.at(-1)?.accuracy ?? NaN };
  console.log(`  ${label}: test accuracy ${(result.accuracy * 100).toFixed(2)}%, loss ${result.loss.toFixed(4)}, ${seconds.toFixed(1)} s`);
  return result;
}

function table(title: string, rows: Row[]): void {
  console.log(`\n${title}`);
  console.log(`${'run'.padEnd(52)} ${'test acc'.padStart(9)} ${'test loss'.padStart(10)} ${'train acc'.padStart(10)} ${'seconds'.padStart(8)}`);
  for (const r of rows) {
    console.log(`${r.label.padEnd(52)} ${`${(r.accuracy * 100).toFixed(2)}%`.padStart(9)} ${r.loss.toFixed(4).padStart(10)} ${`${(r.trainAcc * 100).toFixed(1)}%`.padStart(10)} ${r.seconds.toFixed(1).padStart(8)}`);
  }
}

async function main(): Promise<void> {
  await initBackend('wasm');
  if (torch !== undefined) {
    const ready = await torch.start();
    console.log(`arms train on the torch engine: torch ${ready.torch} on ${ready.device}, ${ready.threads} threads`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'dv-transfer-bench-'));
  try {
    const mnistTest = await readMnistSplit('test');
    const few = source(await readMnistSplit('train'), FEW);
    if (PART !== 'mobilenet') await transferFromFashion(dir, few, source(mnistTest, 10_000));
    if (PART !== 'mnist') await mobileNet(dir, few, mnistTest);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await torch?.close();
  }
}

async function transferFromFashion(dir: string, few: ImageBatchSource, test: ImageBatchSource): Promise<void> {
  const fashion = await readFashionMnistSplit('train');

  // 1. The backbone: small-cnn on Fashion-MNIST, kept in the git-ignored .tools/cache so a
  // rerun with the same sizes reuses it (delete the folder to retrain).
  const cached = join(PROJECT_ROOT, '.tools', 'cache', 'transfer', `fashion-small-cnn-${FASHION_COUNT}x${FASHION_EPOCHS}`);
  let fashionUri = join(cached, 'model.json');
  if (existsSync(fashionUri)) {
    console.log(`Fashion-MNIST backbone: small-cnn, ${FASHION_COUNT} images, ${FASHION_EPOCHS} epochs (trained earlier: ${fashionUri})`);
  } else {
    console.log(`Fashion-MNIST backbone: small-cnn, ${FASHION_COUNT} images, ${FASHION_EPOCHS} epochs`);
    const fashionSpec: ModelSpec = { architecture: 'small-cnn', inputShape: [28, 28, 1], numClasses: 10 };
    const started = performance.now();
    const fashionOutcome = await runTraining({
      model: fashionSpec, spec: { epochs: FASHION_EPOCHS, batchSize: 64, learningRate: 1e-3, seed: 11 },
      train: source(fashion, FASHION_COUNT), onEpochEnd: (r) => Promise.resolve(void console.log(`  epoch ${r.epoch}: loss ${r.loss.toFixed(4)}, accuracy ${(r.accuracy * 100).toFixed(2)}%`)),
    });
    const fashionModel = await modelFromBytes(fashionOutcome.model);
    const fashionTest = evaluate(fashionModel, source(await readFashionMnistSplit('test'), 10_000));
    // Written beside the final folder, then renamed, so an interrupted run never leaves half a model.
    const partial = `${cached}.partial-${process.pid}`;
    await writeModelFiles(await modelArtifacts(fashionModel), partial);
    fashionModel.dispose();
    mkdirSync(dirname(cached), { recursive: true });
    rmSync(cached, { recursive: true, force: true });
    renameSync(partial, cached);
    fashionUri = join(cached, 'model.json');
    console.log(`  Fashion-MNIST test accuracy ${(fashionTest.accuracy * 100).toFixed(2)}% (${((performance.now() - started) / 1000).toFixed(1)} s); saved as ${fashionUri}`);
  }

  // 2. MNIST with 1,000 images. Every arm is the same network: small-cnn's layers up to and
  // including fc1 (conv1, pool1, conv2, pool2, flatten, fc1: 128 ReLU units) as the backbone,
  // plus the same head (dropout 0.25 + a dense layer of 10 logits), the same data, epochs, batch
  // size, learning rate and seed. Only the backbone's initial weights (Fashion-MNIST vs random)
  // and which backbone layers train differ.
  const cut = CUT;
  console.log(`\nMNIST, ${FEW} training images, ${EPOCHS} epochs each, batch 32, Adam lr ${LR}, tested on ${test.count}; backbone = small-cnn up to ${cut}, head = dropout 0.25 + dense 10`);
  const head = (uri: string): ModelSpec => ({ architecture: 'small-cnn', inputShape: [28, 28, 1], numClasses: 10, dropout: 0.25, backbone: { uri, cutLayer: cut } });
  const all: UnfreezeStep[] = [{ afterEpochs: 0, layers: 'all' }];
  const progressive: UnfreezeStep[] = [{ afterEpochs: 2, layers: 1, learningRateScale: 0.3 }, { afterEpochs: 4, layers: 'all', learningRateScale: 0.1 }];
  const arms: { key: string; label: string; fashion: boolean; unfreeze?: UnfreezeStep[] }[] = [
    { key: 'a', label: '(a) Fashion init, backbone frozen, head trained', fashion: true },
    { key: 'b', label: `(b) Fashion init, ${cut === 'fc1' ? 'fc1' : 'top layer'} after 2 (x0.3), all after 4 (x0.1)`, fashion: true, unfreeze: progressive },
    { key: 'c', label: '(c) random init, all layers trained (from scratch)', fashion: false, unfreeze: all },
    { key: 'd', label: '(d) Fashion init, all layers trained (fine-tune)', fashion: true, unfreeze: all },
  ];
  const results = new Map<string, Row[]>(arms.map((a) => [a.key, []]));
  for (const seed of SEEDS) {
    // A fresh random backbone per seed: small-cnn initialised from `seed`, written like the Fashion one.
    const random = buildModel({ architecture: 'small-cnn', inputShape: [28, 28, 1], numClasses: 10 }, 1000 + seed);
    const randomUri = await writeModelFiles(await modelArtifacts(random), join(dir, `random-${seed}`));
    random.dispose();
    console.log(`seed ${seed}`);
    const spec: TrainSpec = { epochs: EPOCHS, batchSize: 32, learningRate: LR, seed };
    for (const arm of arms) {
      const row = await trainAndTest(arm.label, head(arm.fashion ? fashionUri : randomUri), arm.unfreeze === undefined ? spec : { ...spec, unfreeze: arm.unfreeze }, few, test);
      results.get(arm.key)!.push(row);
    }
  }
  const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  console.log(`\nFashion-MNIST -> MNIST transfer vs the same network from scratch, ${ENGINE} engine (${FEW} MNIST training images, ${EPOCHS} epochs, 10,000 test images; seeds ${SEEDS.join(', ')})`);
  console.log(`${'run'.padEnd(58)} ${SEEDS.map((s) => `seed ${s}`.padStart(9)).join(' ')} ${'mean'.padStart(8)} ${'train acc'.padStart(10)} ${'s/run'.padStart(6)}`);
  for (const arm of arms) {
    const rows = results.get(arm.key)!;
    const cells = rows.map((r) => `${(r.accuracy * 100).toFixed(2)}%`.padStart(9)).join(' ');
    console.log(`${arm.label.padEnd(58)} ${cells} ${`${(mean(rows.map((r) => r.accuracy)) * 100).toFixed(2)}%`.padStart(8)} ${`${(mean(rows.map((r) => r.trainAcc)) * 100).toFixed(1)}%`.padStart(10)} ${mean(rows.map((r) => r.seconds)).toFixed(1).padStart(6)}`);
  }
}

async function mobileNet(dir: string, few: ImageBatchSource, mnistTest: MnistSplitData): Promise<void> {
  {

    // 3. MobileNetV2 (nsfwjs) at 96x96x3.
    console.log(`\nMobileNetV2 (nsfwjs@4.3.0: ImageNet, fine-tuned for 5 content classes) at 96x96x3 on ${FEW} MNIST digits, ${MNV2_EPOCHS} epochs, tested on ${MNV2_TEST}`);
    const artifacts = await nsfwjsMobileNetV2Artifacts();
    const mnv2Uri = await writeModelFiles(artifacts, join(dir, 'mobilenet_v2'));
    const random = await loadLayersModelFromFiles(mnv2Uri, { inputShape: [96, 96, 3], cutLayer: 'out_relu', randomInit: true });
    const randomUri = await writeModelFiles(await modelArtifacts(random), join(dir, 'mobilenet_v2_random'));
    random.dispose();
    const rgbTrain = toRgb(few, 96);
    const rgbTest = toRgb(source(mnistTest, MNV2_TEST), 96);
    const mnv2Spec: TrainSpec = { epochs: MNV2_EPOCHS, batchSize: 32, learningRate: 1e-3, seed: 5 };
    const mnv2Rows = [
      await trainAndTest('(d) MobileNetV2 frozen at out_relu + head', { architecture: 'small-cnn', inputShape: [96, 96, 3], numClasses: 10, backbone: { uri: mnv2Uri, cutLayer: 'out_relu' } }, mnv2Spec, rgbTrain, rgbTest),
    ];
    try {
      mnv2Rows.push(await trainAndTest('(e) MobileNetV2 random init, all layers trained', {
        architecture: 'small-cnn', inputShape: [96, 96, 3], numClasses: 10, backbone: { uri: randomUri, cutLayer: 'out_relu' },
      }, { ...mnv2Spec, unfreeze: [{ afterEpochs: 0, layers: 'all' }] }, rgbTrain, rgbTest));
    } catch (error) {
      console.log(`  (e) from scratch failed: ${(error as Error).message}`);
    }
    table(`MobileNetV2 (nsfwjs) features vs from scratch (${FEW} MNIST digits at 96x96x3, ${MNV2_EPOCHS} epochs, ${MNV2_TEST} test images)`, mnv2Rows);
  }
}

await main();
