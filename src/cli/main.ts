import { Command } from 'commander';
import { Runtime, DefaultLogger } from '@temporalio/worker';
import { ConfigError } from '../core/config.js';
import { runCommand } from './commands/run.js';
import { workerCommand } from './commands/worker.js';
import { statusCommand } from './commands/status.js';
import { devCommand } from './commands/dev.js';
import { arbitrateCommand, type ArbitrateOptions } from './commands/arbitrate.js';
import { sweepLeaderboardCommand, sweepSignalCommand, sweepStartCommand, sweepStatusCommand, type SweepStartOptions } from './commands/sweep.js';

// Temporal's own logs at WARN keep the progress view readable.
Runtime.install({ logger: new DefaultLogger('WARN') });

const program = new Command()
  .name('durable-vision')
  .description('Train image-recognition models as a durable Temporal pipeline')
  .showHelpAfterError();

const collect = (value: string, previous: string[] = []) => [...previous, value];

program
  .command('run')
  .description('run the five-phase pipeline (starts a local Temporal server unless TEMPORAL_ADDRESS is set)')
  .option('-c, --config <file>', 'YAML config; without it the embedded MNIST defaults are used')
  .option('-s, --store <uri>', 'artifact store: file://path, a path, or s3://bucket/prefix', undefined)
  .option('--run-id <id>', 'name the run (re-attaches if it exists)')
  .option('--json', 'print the final result as JSON on stdout')
  .option('--no-worker', 'do not serve the task queues from this process (use remote workers)')
  .option('--prepare-only', 'run phase 1 only: prepare the dataset and its data report')
  .action(async (opts: { config?: string; store?: string; json?: boolean; worker?: boolean; runId?: string }) => {
    process.exitCode = await runCommand(opts);
  });

program
  .command('worker')
  .description('serve task queues of the Temporal cluster at TEMPORAL_ADDRESS (default 127.0.0.1:7233)')
  .option('-q, --queue <name>', 'vision-cpu or vision-gpu; repeat for both (default both)', collect)
  .option('--engine <name>', "training engine of this worker: tfjs, torch, or auto (torch when PyTorch sees a CUDA card); default: each run's training.engine")
  .action(async (opts: { queue?: string[]; engine?: string }) => {
    process.exitCode = await workerCommand(opts);
  });

program
  .command('status')
  .description('state, progress and results of a run')
  .argument('<runId>')
  .option('--json', 'print JSON')
  .action(async (runId: string, opts: { json?: boolean }) => {
    process.exitCode = await statusCommand(runId, opts);
  });

program
  .command('arbitrate')
  .description('settle a run paused for label arbitration')
  .argument('<runId>')
  .option('--resolutions <csv>', 'the arbitration CSV with its resolution column filled in (path or s3:// URI)')
  .option('--third-annotator <csv>', "a third annotator's manifest (path,label[,annotator]); the majority of three decides")
  .option('--decision <rule>', 'settle every conflict by rule: majority or drop')
  .action(async (runId: string, opts: ArbitrateOptions) => {
    process.exitCode = await arbitrateCommand(runId, opts);
  });

const sweep = program.command('sweep').description('hyperparameter sweeps: start, watch and steer them');
sweep
  .command('start')
  .description('run the sweep in the config\'s sweep section (starts a local Temporal server unless TEMPORAL_ADDRESS is set)')
  .argument('[config]', 'YAML config with a sweep section')
  .option('-s, --store <uri>', 'artifact store: file://path, a path, or s3://bucket/prefix')
  .option('--sweep-id <id>', 'name the sweep (re-attaches if it exists)')
  .option('--json', 'print the final result as JSON on stdout')
  .option('--no-worker', 'do not serve the task queues from this process (use remote workers)')
  .action(async (config: string | undefined, opts: SweepStartOptions) => {
    process.exitCode = await sweepStartCommand(config, opts);
  });
sweep
  .command('status')
  .description('budget, concurrency, trial counts and the best trial of a sweep')
  .argument('<sweepId>')
  .option('--json', 'print JSON')
  .action(async (id: string, opts: { json?: boolean }) => {
    process.exitCode = await sweepStatusCommand(id, opts);
  });
sweep
  .command('leaderboard')
  .description('trials of a sweep, best first')
  .argument('<sweepId>')
  .option('--json', 'print JSON')
  .action(async (id: string, opts: { json?: boolean }) => {
    process.exitCode = await sweepLeaderboardCommand(id, opts);
  });
sweep
  .command('stop')
  .description('no new trials; running rungs finish (or, with --now, are cancelled), then the sweep ends with its leaderboard')
  .argument('<sweepId>')
  .argument('[reason]')
  .option('--now', 'cancel the rungs training now: their trainings end at the next heartbeat, finished epochs keep their checkpoints')
  .action(async (id: string, reason: string | undefined, opts: { now?: boolean }) => {
    process.exitCode = await sweepSignalCommand(id, opts.now === true ? 'stopNow' : 'stop', reason);
  });
sweep
  .command('extend')
  .description('raise the trial budget by n')
  .argument('<sweepId>')
  .argument('<n>')
  .action(async (id: string, n: string) => {
    process.exitCode = await sweepSignalCommand(id, 'extend', n);
  });
sweep
  .command('concurrency')
  .description('set how many trials train at once')
  .argument('<sweepId>')
  .argument('<n>')
  .action(async (id: string, n: string) => {
    process.exitCode = await sweepSignalCommand(id, 'concurrency', n);
  });
sweep
  .command('enqueue')
  .description('run this configuration next, e.g. \'{"training.learningRate": 0.001}\'')
  .argument('<sweepId>')
  .argument('<json>')
  .action(async (id: string, json: string) => {
    process.exitCode = await sweepSignalCommand(id, 'enqueue', json);
  });

program
  .command('dev')
  .description('start only the local Temporal dev server (data under .data/temporal)')
  .option('--port <port>', 'gRPC port', '7233')
  .option('--ui-port <port>', 'Web UI port', '8233')
  .action(async (opts: { port: string; uiPort: string }) => {
    process.exitCode = await devCommand(opts);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
// Native handles (gRPC, tfjs) can keep the loop alive after the work is done.
process.exit(process.exitCode ?? 0);
