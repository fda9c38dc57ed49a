/** Every workflow a worker serves. */
export { trainingPipelineWorkflow, datasetWorkflow, progressQuery, epochProgressSignal } from './pipeline-workflow.js';
export { arbitrationSignal } from './prepare-data.js';
