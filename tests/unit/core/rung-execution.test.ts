import { describe, expect, it } from 'vitest';
import { AUTO_LOCAL_MAX_SECONDS, AUTO_MIN_RUNGS, AUTO_WINDOW, chooseRungExecution, recordRungSeconds } from '../../../src/core/rung-execution.js';

describe('how a sweep runs a rung (sweep.trialExecution)', () => {
  it('an explicit setting is kept whatever the rung times', () => {
    expect(chooseRungExecution('activity', [1, 1, 1, 1, 1])).toBe('activity');
    expect(chooseRungExecution('local-activity', [])).toBe('local-activity');
    expect(chooseRungExecution('local-activity', [3600, 3600, 3600, 3600])).toBe('local-activity');
  });

  it('auto: activities until four rungs have finished, then local while the recent rungs are short', () => {
    expect([AUTO_MIN_RUNGS, AUTO_WINDOW, AUTO_LOCAL_MAX_SECONDS]).toEqual([4, 8, 60]);
    expect(chooseRungExecution('auto', [])).toBe('activity');
    expect(chooseRungExecution('auto', [1.2, 1.1, 1.3])).toBe('activity');
    expect(chooseRungExecution('auto', [1.2, 1.1, 1.3, 1.0])).toBe('local-activity');
    expect(chooseRungExecution('auto', [60, 60, 60, 60])).toBe('local-activity');
  });

  it('auto: one long rung among the last eight sends rungs back to activities until it leaves the window', () => {
    let recent: number[] = [];
    for (let i = 0; i < 6; i++) recent = recordRungSeconds(recent, 2);
    expect(chooseRungExecution('auto', recent)).toBe('local-activity');
    recent = recordRungSeconds(recent, 60.5);
    expect(chooseRungExecution('auto', recent)).toBe('activity');
    for (let i = 0; i < 7; i++) {
      recent = recordRungSeconds(recent, 2);
      expect(chooseRungExecution('auto', recent), `${i + 1} short rungs after the long one`).toBe('activity');
    }
    recent = recordRungSeconds(recent, 2);
    expect(recent).toEqual([2, 2, 2, 2, 2, 2, 2, 2]);
    expect(chooseRungExecution('auto', recent)).toBe('local-activity');
  });

  it('keeps only the last eight rung times', () => {
    let recent: number[] = [];
    for (let i = 1; i <= 20; i++) recent = recordRungSeconds(recent, i);
    expect(recent).toEqual([13, 14, 15, 16, 17, 18, 19, 20]);
  });
});
