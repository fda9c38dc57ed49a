/** Pre-deployment gates: pure decisions with reasons a person can act on. */
import type { ValidationConfig } from './config.js';
import type { GateVerdict } from './manifests.js';

export interface GateInputs {
  accuracy: number;
  latencyP95Ms: number;
}

export function deploymentVerdicts(inputs: GateInputs, config: Pick<ValidationConfig, 'minAccuracy' | 'maxLatencyMsP95'>): GateVerdict[] {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  return [
    {
      gate: 'min-accuracy',
      passed: inputs.accuracy >= config.minAccuracy,
      reason: `test accuracy ${pct(inputs.accuracy)} ${inputs.accuracy >= config.minAccuracy ? '>=' : '<'} required ${pct(config.minAccuracy)}`,
    },
    {
      gate: 'max-latency-p95',
      passed: inputs.latencyP95Ms <= config.maxLatencyMsP95,
      reason: `batch-1 p95 latency ${inputs.latencyP95Ms.toFixed(2)} ms ${inputs.latencyP95Ms <= config.maxLatencyMsP95 ? '<=' : '>'} limit ${config.maxLatencyMsP95} ms`,
    },
  ];
}
