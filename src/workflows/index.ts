/** Every workflow a worker serves. */
export { trainingPipelineWorkflow, progressQuery, epochProgressSignal } from './pipeline-workflow.js';
