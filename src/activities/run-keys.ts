const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Where each run's artifacts live inside the store. One place, so every activity agrees.
 * A run id is one segment, or up to three joined by '/' for runs inside a run (a sweep's
 * trials are `<sweepId>/trial-<n>`, so each keeps its own checkpoints).
 */
export const runKeys = (runId: string) => {
  const segments = runId.split('/');
  if (segments.length > 3 || !segments.every((s) => SEGMENT.test(s))) {
    throw new Error(`runId must be 1-128 letters, digits, '.', '_' or '-' and start with a letter or digit (or up to three such parts joined by '/'), got ${JSON.stringify(runId)}`);
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
