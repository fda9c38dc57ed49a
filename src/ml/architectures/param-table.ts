/**
 * Parameter counts of every architecture in its standard configuration (224x224x3 input,
 * 1000 classes, width 1) against the published figures. Run directly to print the table:
 *   node bin/run-ts.mjs src/ml/architectures/param-table.ts
 * Counts are trainable parameters (what papers and torchvision/timm report); batch-norm moving
 * statistics are listed separately.
 */
import * as tf from '@tensorflow/tfjs';
import { pathToFileURL } from 'node:url';
import { buildModel } from '../build-model.js';
import { ARCHITECTURE_NAMES, type ArchitectureName } from '../engine.js';

/** Published parameter counts (torchvision for the CNNs, timm vit_tiny_patch16_224); small-cnn is this project's. */
export const PUBLISHED_PARAMS: Readonly<Record<Exclude<ArchitectureName, 'small-cnn'>, number>> = {
  'mobilenet-v3-small': 2_542_856,
  'mobilenet-v3-large': 5_483_032,
  'resnet-18': 11_689_512,
  'resnet-50': 25_557_032,
  'efficientnet-b0': 5_288_548,
  'vit-tiny': 5_717_416,
};

export interface ParamRow {
  architecture: ArchitectureName;
  trainable: number;
  nonTrainable: number;
  published?: number;
}

function size(shape: readonly (number | null)[]): number {
  return shape.reduce<number>((n, d) => n * (d ?? 1), 1);
}

/** Builds each model at 224x224x3 / 1000 classes (no forward pass), counts, disposes. */
export function parameterTable(architectures: readonly ArchitectureName[] = ARCHITECTURE_NAMES): ParamRow[] {
  return architectures.map((architecture) => {
    const model = buildModel({ architecture, inputShape: [224, 224, 3], numClasses: 1000 }, 0);
    try {
      const trainable = model.trainableWeights.reduce((n, w) => n + size(w.shape), 0);
      const row: ParamRow = { architecture, trainable, nonTrainable: model.countParams() - trainable };
      if (architecture !== 'small-cnn') row.published = PUBLISHED_PARAMS[architecture];
      return row;
    } finally {
      model.dispose();
    }
  });
}

export function formatParameterTable(rows: readonly ParamRow[]): string {
  const lines = ['architecture         trainable   published   diff     bn-stats'];
  for (const r of rows) {
    const diff = r.published === undefined ? '' : `${(((r.trainable - r.published) / r.published) * 100).toFixed(2)}%`;
    lines.push(`${r.architecture.padEnd(20)} ${String(r.trainable).padStart(10)}  ${String(r.published ?? '-').padStart(10)}  ${diff.padStart(7)}  ${String(r.nonTrainable).padStart(9)}`);
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await tf.setBackend('cpu');
  console.log(formatParameterTable(parameterTable()));
}
