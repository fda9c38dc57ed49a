import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/activities/logger.js';
import type { ImageBatchSource, InferenceBenchmark, ModelBytes, TrainingEngine } from '../../../src/ml/engine.js';
import type { TorchEngine } from '../../../src/ml/torch-engine.js';
import { isTorchModel } from '../../../src/ml/torch-model-bytes.js';
import type { TorchReady } from '../../../src/ml/torch-process.js';
import { createEngineSelection, parseEngineChoice } from '../../../src/ml/torch-select.js';

const data: ImageBatchSource = { images: new Uint8Array(4), labels: new Int32Array(1), count: 1, shape: [2, 2, 1], scaling: '0-1' };
const torchBytes = new Uint8Array([...new TextEncoder().encode('DVTM0001'), 0, 0, 0, 0]);
const tfjsBytes = new TextEncoder().encode('DVMB....');
const bench = (name: string): InferenceBenchmark => ({ throughputImgPerS: name === 'torch' ? 2 : 1, batchSize: 1, latencyMs: { p50: 1, p95: 1, mean: 1 }, iterations: 10 });

function fakeEngine(name: string): TrainingEngine {
  return {
    name,
    backend: () => name,
    paramsCount: () => Promise.resolve(1),
    train: () => Promise.reject(new Error('not here')),
    predict: () => Promise.resolve(new Float32Array([name === 'torch' ? 2 : 1])),
    benchmark: () => Promise.resolve(bench(name)),
  };
}

function fakeTorch(ready: TorchReady | Error): () => TorchEngine {
  return () => ({
    ...fakeEngine('torch'),
    start: () => (ready instanceof Error ? Promise.reject(ready) : Promise.resolve(ready)),
    exportOnnx: () => Promise.resolve({ inputName: 'image', outputName: 'probabilities', opset: 13 }),
    close: () => Promise.resolve(),
  });
}

const cpuReady: TorchReady = { torch: '1.13', torchvision: '0.14', device: 'cpu', deviceName: 'cpu', cuda: false, threads: 1 };
const cudaReady: TorchReady = { ...cpuReady, device: 'cuda', deviceName: 'NVIDIA H200', cuda: true };

describe('engine selection', () => {
  it('recognises torch model bytes by their header', () => {
    expect(isTorchModel(torchBytes)).toBe(true);
    expect(isTorchModel(tfjsBytes)).toBe(false);
    expect(isTorchModel(new Uint8Array(3))).toBe(false);
  });

  it('routes inference to the engine that wrote the model', async () => {
    const selection = createEngineSelection({ tfjs: fakeEngine('tfjs'), logger: silentLogger, createTorch: fakeTorch(cpuReady) });
    expect(Array.from(await selection.engine.predict(torchBytes as ModelBytes, data))).toEqual([2]);
    expect(Array.from(await selection.engine.predict(tfjsBytes, data))).toEqual([1]);
    expect((await selection.engine.benchmark(torchBytes, data)).throughputImgPerS).toBe(2);
  });

  it("trains with the run's training.engine unless the worker overrides it", async () => {
    const plain = createEngineSelection({ tfjs: fakeEngine('tfjs'), logger: silentLogger, createTorch: fakeTorch(cpuReady) });
    expect((await plain.forTraining('tfjs')).name).toBe('tfjs');
    expect((await plain.forTraining('torch')).name).toBe('torch');
    expect((await plain.forTraining(undefined)).name).toBe('tfjs');
    const overridden = createEngineSelection({ tfjs: fakeEngine('tfjs'), override: 'torch', logger: silentLogger, createTorch: fakeTorch(cpuReady) });
    expect((await overridden.forTraining('tfjs')).name).toBe('torch');
  });

  it('auto picks torch only with a CUDA card, and tfjs when PyTorch is missing', async () => {
    const withCard = createEngineSelection({ tfjs: fakeEngine('tfjs'), logger: silentLogger, createTorch: fakeTorch(cudaReady) });
    expect((await withCard.forTraining('auto')).name).toBe('torch');
    const cpuOnly = createEngineSelection({ tfjs: fakeEngine('tfjs'), logger: silentLogger, createTorch: fakeTorch(cpuReady) });
    expect((await cpuOnly.forTraining('auto')).name).toBe('tfjs');
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (m: string) => warnings.push(m) };
    const missing = createEngineSelection({ tfjs: fakeEngine('tfjs'), logger, createTorch: fakeTorch(new Error('Python 3 was not found')) });
    expect((await missing.forTraining('auto')).name).toBe('tfjs');
    expect(warnings.join('\n')).toMatch(/torch engine is unavailable: Python 3 was not found/);
    // Asking for torch explicitly does not fall back: the error says what is missing.
    await expect(missing.forTraining('torch')).rejects.toThrow(/Python 3 was not found/);
  });

  it('rejects an unknown --engine naming the value', () => {
    expect(parseEngineChoice('torch')).toBe('torch');
    expect(() => parseEngineChoice('jax')).toThrow('--engine must be one of tfjs, torch, auto, got "jax"');
  });
});
