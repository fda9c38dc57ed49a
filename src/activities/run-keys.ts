/** Where each run's artifacts live inside the store. One place, so every activity agrees. */
export const runKeys = (runId: string) => {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(runId)) {
    throw new Error(`runId must be 1-128 letters, digits, '.', '_' or '-' and start with a letter or digit, got ${JSON.stringify(runId)}`);
  }
  const root = `runs/${runId}`;
  return {
    root,
    plan: `${root}/model-plan.json`,
    checkpointsPrefix: `${root}/checkpoints/`,
    checkpoint: (epoch: number) => `${root}/checkpoints/epoch-${String(epoch).padStart(4, '0')}.ckpt`,
    model: `${root}/model/model.dvm`,
    history: `${root}/training-history.json`,
    evaluation: `${root}/evaluation.json`,
    predictions: `${root}/test-probabilities.f32`,
    /** A Grad-CAM overlay PNG of a test image. */
    gradCam: (name: string) => `${root}/grad-cam/${name}`,
    validation: `${root}/validation.json`,
    report: `${root}/report.json`,
    reportHtml: `${root}/report.html`,
  };
};
