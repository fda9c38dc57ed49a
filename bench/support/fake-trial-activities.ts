/**
 * Stand-ins for a trial's two activities, for measuring orchestration alone: `selectModel`
 * answers at once with a plausible plan, `trainModel` sleeps for the given time and returns a
 * plausible TrainResult whose validation accuracy follows from the configuration (best near a
 * learning rate of 3e-3, wider models a little better), so samplers and schedulers see a
 * landscape. Each training call's measured sleep is recorded under its trial's workflow id.
 */
import { Context } from '@temporalio/activity';
import type { SelectModelInput, TrainModelInput, TrainTrialRungInput, TrialRungResult } from '../../src/activities/types.js';
import type { EpochMetrics, ModelPlan, TrainResult } from '../../src/core/manifests.js';

export interface FakeTrialActivities {
  selectModel(input: SelectModelInput): Promise<ModelPlan>;
  trainModel(input: TrainModelInput): Promise<TrainResult>;
  /** selectModel (first rung) then trainModel, as the real GPU activity does. */
  trainTrialRung(input: TrainTrialRungInput): Promise<TrialRungResult>;
}

/** The validation accuracy a fake trial reaches at `epoch`. */
export function fakeValAccuracy(learningRate: number, widthMultiplier: number, epoch: number): number {
  const distance = Math.abs(Math.log10(learningRate / 3e-3));
  const ceiling = 0.995 - 0.12 * distance * distance - 0.01 * (1 - widthMultiplier);
  return Math.max(0.1, ceiling - 0.05 / epoch);
}

/**
 * `sleepMs()` is read at each call, so one set of workers can serve runs with different training
 * times; `trainingMs` receives the measured sleep of each training call, by the calling workflow's id.
 */
export function createFakeTrialActivities(sleepMs: () => number, trainingMs: Map<string, number>): FakeTrialActivities {
  const fake: FakeTrialActivities = {
    async trainTrialRung(input) {
      const { runId, storeUri, dataset } = input;
      const plan = input.plan ?? (await fake.selectModel({ runId, storeUri, dataset, model: input.model }));
      return { plan, training: await fake.trainModel({ runId, storeUri, dataset, plan, training: input.training, stopAfterEpoch: input.stopAfterEpoch }) };
    },
    selectModel(input) {
      const { dataset, model } = input;
      return Promise.resolve({
        architecture: model.architecture, inputShape: dataset.inputShape, numClasses: dataset.classes.length, paramsCount: 100_000,
        widthMultiplier: model.widthMultiplier, dropout: model.dropout, planUri: `${input.storeUri}/runs/${input.runId}/plan.json`,
      });
    },
    async trainModel(input) {
      const ms = sleepMs();
      const started = performance.now();
      if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
      const workflowId = Context.current().info.workflowExecution?.workflowId;
      if (workflowId === undefined) throw new Error('the fake trainModel runs only inside a workflow: its time is recorded by workflow id');
      trainingMs.set(workflowId, performance.now() - started);
      const epochs = input.stopAfterEpoch ?? input.training.epochs;
      const history: EpochMetrics[] = [];
      for (let epoch = 1; epoch <= epochs; epoch++) {
        const valAccuracy = fakeValAccuracy(input.training.learningRate, input.plan.widthMultiplier, epoch);
        history.push({ epoch, loss: 1 - valAccuracy, accuracy: valAccuracy, valLoss: 1 - valAccuracy, valAccuracy, imagesPerSecond: 1000, seconds: ms / 1000 / epochs });
      }
      const run = `${input.storeUri}/runs/${input.runId}`;
      return {
        modelUri: `${run}/model.bin`, checkpointUris: [`${run}/checkpoints/epoch-${epochs}.bin`], historyUri: `${run}/history.json`, history,
        bestEpoch: epochs, epochsCompleted: epochs, resumedFromEpoch: 0, attempts: 1, engine: 'fake', backend: 'sleep',
      };
    },
  };
  return fake;
}
