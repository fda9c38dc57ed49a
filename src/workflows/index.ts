/** Every workflow a worker serves. */
export { trainingPipelineWorkflow, datasetWorkflow, progressQuery, epochProgressSignal } from './pipeline-workflow.js';
export { arbitrationSignal } from './prepare-data.js';
export { sweepWorkflow, stopSweepSignal, extendBudgetSignal, setConcurrencySignal, enqueueTrialSignal, leaderboardQuery, sweepEventsQuery, sweepStatusQuery } from './sweep-workflow.js';
export { trialWorkflow } from './trial-workflow.js';
