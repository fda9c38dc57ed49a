/**
 * The whole pipeline with PyTorch training on the `vision-gpu` queue: a CPU worker (workflows,
 * data, evaluation, reports) that has no PyTorch, and a separate GPU worker started with
 * `--engine torch`, as two machines would run them. The CPU worker evaluates the torch model
 * from the ONNX export the training stored. Skipped, with the reason printed, only where PyTorch cannot start
 * (`npm test` installs it with scripts/install-torch.mjs).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/activities/logger.js';
import { CPU_QUEUE, GPU_QUEUE } from '../../src/core/task-queues.js';
import { createTorchEngine } from '../../src/ml/torch-engine.js';
import { modelArtifacts, writeModelFiles } from '../../src/ml/transfer.js';
import { createWorkers, workflowBundle } from '../../src/workers/create-workers.js';
import { trainingPipelineWorkflow } from '../../src/workflows/pipeline-workflow.js';
import { startTemporal, withWorkers } from './support/temporal.js';
import { tinyConfig } from './support/tiny-config.js';

const probe = createTorchEngine({ device: 'cpu', threads: 1 });
const torchSkip = await probe.start().then(() => undefined, (error: unknown) => String(error));
await probe.close();
if (torchSkip !== undefined) console.warn(`pipeline with the torch engine SKIPPED: ${torchSkip}`);

describe.skipIf(torchSkip !== undefined)('training pipeline with the torch engine on the vision-gpu queue', () => {
  let env: TestWorkflowEnvironment;
  let dir: string;

  beforeAll(async () => {
    env = await startTemporal();
    dir = await mkdtemp(join(tmpdir(), 'dv-pipeline-torch-'));
  });
  afterAll(async () => {
    await env?.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('trains on PyTorch, evaluates the torch model and benchmarks its ONNX export in phase 5', async () => {
    const bundle = await workflowBundle();
    // This worker's Python does not exist: PyTorch cannot start here.
    const cpu = await createWorkers({ connection: env.nativeConnection, queues: [CPU_QUEUE], logger: silentLogger, workflowBundle: bundle, torch: { python: join(dir, 'no-python3') } });
    const gpu = await createWorkers({ connection: env.nativeConnection, queues: [GPU_QUEUE], logger: silentLogger, workflowBundle: bundle, engine: 'torch', torch: { device: 'cpu', threads: 1 } });
    const runId = 'torch-run';
    const storeUri = `file://${dir}/artifacts`;
    // The run's config says tfjs: the GPU worker's --engine torch decides.
    const config = tinyConfig();
    expect(config.training.engine).toBe('tfjs');
    const result = await withWorkers([...cpu, ...gpu], () =>
      env.client.workflow.execute(trainingPipelineWorkflow, { taskQueue: CPU_QUEUE, workflowId: runId, args: [{ runId, storeUri, config }] }),
    );

    expect(result.training.engine).toBe('torch');
    expect(result.training.backend).toBe('torch-cpu');
    expect(result.training.epochsCompleted).toBe(2);
    expect(result.training.checkpointUris).toHaveLength(2);
    // 1,080 training images, 2 epochs: far better than the 10% of guessing, evaluated by
    // onnxruntime-node from the ONNX file the GPU worker stored with the model.
    expect(result.training.onnxUri).toMatch(/\.onnx$/);
    expect(result.evaluation.accuracy).toBeGreaterThan(0.7);
    const evaluation = JSON.parse(await readFile(new URL(result.evaluation.evalUri), 'utf8')) as { backend: string; gradCam: { skipped?: string } };
    expect(evaluation.backend).toMatch(/^onnxruntime-node/);
    expect(evaluation.gradCam.skipped).toMatch(/torch engine could not start/);
    expect(result.evaluation.confusion.flat().reduce((a, b) => a + b, 0)).toBe(result.dataset.splits.test.count);
    expect(result.validation.backend).toMatch(/^onnxruntime-node/);
    // Phase 5 benchmarks the ONNX file training stored; it does not export again.
    expect(result.validation.onnxUri).toBe(result.training.onnxUri);
    expect(result.validation.throughputImgPerS).toBeGreaterThan(0);
    expect(result.validation.verdicts.map((v) => v.gate)).toEqual(['min-accuracy', 'max-latency-p95']);

    const report = await readFile(new URL(result.reportHtmlUri), 'utf8');
    expect(report).toContain('torch');
  });

  it('trains a tfjs backbone with a new head on PyTorch, unfreezing its top layer after the first epoch', async () => {
    // A tfjs layers model (random weights) as the backbone: the torch worker rebuilds it from model.json.
    const input = tf.input({ shape: [28, 28, 1], name: 'image' });
    let x = tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'conv', kernelInitializer: tf.initializers.heNormal({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ name: 'bn' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: 64, activation: 'relu', name: 'feat', kernelInitializer: tf.initializers.heNormal({ seed: 2 }) }).apply(x) as tf.SymbolicTensor;
    const old = tf.layers.dense({ units: 3, name: 'old_logits' }).apply(x) as tf.SymbolicTensor;
    const pretrained = tf.model({ inputs: input, outputs: old });
    const uri = await writeModelFiles(await modelArtifacts(pretrained), join(dir, 'backbone'));
    pretrained.dispose();

    const bundle = await workflowBundle();
    const cpu = await createWorkers({ connection: env.nativeConnection, queues: [CPU_QUEUE], logger: silentLogger, workflowBundle: bundle, torch: { python: join(dir, 'no-python3') } });
    const gpu = await createWorkers({ connection: env.nativeConnection, queues: [GPU_QUEUE], logger: silentLogger, workflowBundle: bundle, engine: 'torch', torch: { device: 'cpu', threads: 1 } });
    const runId = 'torch-transfer-run';
    const base = tinyConfig();
    const config = {
      ...base,
      model: { ...base.model, backbone: { uri, cutLayer: 'feat', strict: true } },
      training: { ...base.training, unfreeze: [{ afterEpochs: 1, layers: 1, learningRateScale: 0.5 }] },
    };
    const result = await withWorkers([...cpu, ...gpu], () =>
      env.client.workflow.execute(trainingPipelineWorkflow, { taskQueue: CPU_QUEUE, workflowId: runId, args: [{ runId, storeUri: `file://${dir}/artifacts`, config }] }),
    );
    expect(result.training.engine).toBe('torch');
    expect(result.training.epochsCompleted).toBe(2);
    expect(result.training.onnxUri).toMatch(/\.onnx$/);
    expect(result.evaluation.accuracy).toBeGreaterThan(0.7);
  });
});
