import { describe, expect, it } from 'vitest';
import { deploymentVerdicts } from '../../../src/core/gates.js';

describe('deployment gates', () => {
  it('passes a model that meets both limits and explains why', () => {
    const v = deploymentVerdicts({ accuracy: 0.981, latencyP95Ms: 3.2 }, { minAccuracy: 0.97, maxLatencyMsP95: 50 });
    expect(v.every((x) => x.passed)).toBe(true);
    expect(v[0]?.reason).toBe('test accuracy 98.10% >= required 97.00%');
  });

  it('fails each gate on its own with the figure that failed', () => {
    const v = deploymentVerdicts({ accuracy: 0.9, latencyP95Ms: 80 }, { minAccuracy: 0.97, maxLatencyMsP95: 50 });
    expect(v.map((x) => x.passed)).toEqual([false, false]);
    expect(v[1]?.reason).toContain('80.00 ms > limit 50 ms');
  });
});
