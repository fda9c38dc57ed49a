"""`python3 -m durable_vision_torch [--device auto|cpu|cuda] [--threads N]`: the torch engine as
a child process speaking line-delimited JSON.

stdin, one JSON object a line:
  {"id": n, "op": "paramsCount" | "train" | "predict" | "embed" | "gradCam" | "benchmark" | "export", ...}
  {"id": n, "op": "ack"}      the caller stored the checkpoint of the last "epoch" line
  {"id": n, "op": "cancel"}   stop request n at the next batch boundary (error type AbortError)
  {"op": "shutdown"}          exit (so does end of input)
stdout, one JSON object a line:
  {"type": "ready", "torch", "torchvision", "device", "deviceName", "cuda", "threads"} once at start
  {"id", "type": "progress", "epoch", "batch", "batches"}
  {"id", "type": "epoch", "report", "model": path, "optimizer": path}   then waits for "ack"
  {"id", "type": "result", ...}
  {"id", "type": "error", "error": {"type", "message", "details"?}}
Big data travels in files under the request's "workDir": sources are raw uint8 NHWC pixels and
int32 labels, model bytes and float32 outputs are files too. Anything else the process prints
goes to stderr, which the adapter logs.
"""
import argparse
import json
import os
import queue
import sys
import threading
import traceback

PROTOCOL = sys.stdout
sys.stdout = sys.stderr  # stray prints must not corrupt the protocol stream
_write_lock = threading.Lock()


def send(message: dict) -> None:
    line = json.dumps(message, allow_nan=False)
    with _write_lock:
        PROTOCOL.write(line + '\n')
        PROTOCOL.flush()


def main() -> None:
    parser = argparse.ArgumentParser(prog='durable_vision_torch')
    parser.add_argument('--device', default='auto', choices=['auto', 'cpu', 'cuda'])
    parser.add_argument('--threads', type=int, default=0)
    args = parser.parse_args()
    try:
        import torch
        import torchvision
    except ImportError as error:
        send({'type': 'error', 'error': {'type': 'TorchMissing', 'message': f'{error}; install PyTorch and torchvision '
              '(node scripts/install-torch.mjs, or apt-get install python3-torch python3-torchvision)'}})
        sys.exit(3)
    from . import infer
    from .models import build_model, count_params
    from .train import AbortError, TrainingDivergedError, train

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    if args.device == 'cuda' and not cuda:
        send({'type': 'error', 'error': {'type': 'DeviceUnavailable', 'message': '--device cuda asked for, but torch.cuda.is_available() is False'}})
        sys.exit(4)
    device = torch.device('cuda' if cuda and args.device != 'cpu' else 'cpu')
    send({'type': 'ready', 'torch': torch.__version__, 'torchvision': torchvision.__version__, 'device': str(device),
          'deviceName': torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu', 'cuda': cuda,
          'threads': torch.get_num_threads(), 'pid': os.getpid()})

    requests: 'queue.Queue[dict]' = queue.Queue()
    acks: 'queue.Queue[int]' = queue.Queue()
    cancelled = set()

    def read_stdin():
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                message = json.loads(line)
            except json.JSONDecodeError as error:
                send({'type': 'error', 'error': {'type': 'ProtocolError', 'message': f'bad request line: {error}'}})
                continue
            op = message.get('op')
            if op == 'cancel':
                cancelled.add(message.get('id'))
            elif op == 'ack':
                acks.put(message.get('id'))
            elif op == 'shutdown':
                break
            else:
                requests.put(message)
        # End of input: the parent is gone or done; a training step in progress is abandoned.
        os._exit(0)

    threading.Thread(target=read_stdin, daemon=True).start()

    while True:
        req = requests.get()
        rid = req.get('id')
        try:
            if req.get('threads'):
                torch.set_num_threads(int(req['threads']))
            op = req.get('op')
            work = req.get('workDir', '.')
            if op == 'paramsCount':
                send({'id': rid, 'type': 'result', 'paramsCount': count_params(build_model(req['model'], 0))})
            elif op == 'train':
                model_path = os.path.join(work, 'epoch-model.bin')
                state_path = os.path.join(work, 'epoch-state.bin')

                class Hooks:
                    @staticmethod
                    def progress(epoch, batch, batches):
                        send({'id': rid, 'type': 'progress', 'epoch': epoch, 'batch': batch, 'batches': batches})

                    @staticmethod
                    def epoch_end(report, model_bytes, state_bytes):
                        with open(model_path, 'wb') as f:
                            f.write(model_bytes)
                        with open(state_path, 'wb') as f:
                            f.write(state_bytes)
                        send({'id': rid, 'type': 'epoch', 'report': report, 'model': model_path, 'optimizer': state_path})
                        while True:
                            got = acks.get()
                            if got == rid:
                                return
                            if rid in cancelled:
                                raise AbortError('training aborted while the checkpoint was being stored')

                    @staticmethod
                    def cancelled():
                        return rid in cancelled

                outcome = train(req, device, Hooks)
                final = os.path.join(work, 'final-model.bin')
                with open(final, 'wb') as f:
                    f.write(outcome['model'])
                send({'id': rid, 'type': 'result', 'model': final, 'history': outcome['history'], 'paramsCount': outcome['paramsCount']})
            elif op == 'predict':
                values = infer.predict(req, device)
                path = os.path.join(work, 'probabilities.f32')
                values.tofile(path)
                send({'id': rid, 'type': 'result', 'path': path, 'count': values.shape[0], 'classes': values.shape[1]})
            elif op == 'embed':
                values, layer = infer.embed(req, device)
                path = os.path.join(work, 'embeddings.f32')
                values.tofile(path)
                send({'id': rid, 'type': 'result', 'path': path, 'dim': values.shape[1], 'layer': layer})
            elif op == 'gradCam':
                values, meta = infer.grad_cam(req, device)
                path = os.path.join(work, 'heatmaps.f32')
                values.tofile(path)
                send({'id': rid, 'type': 'result', 'path': path, **meta})
            elif op == 'benchmark':
                send({'id': rid, 'type': 'result', **infer.benchmark(req, device)})
            elif op == 'export':
                send({'id': rid, 'type': 'result', **infer.export_onnx(req)})
            else:
                raise ValueError(f'op must be one of paramsCount, train, predict, embed, gradCam, benchmark, export; got {op!r}')
        except TrainingDivergedError as error:
            send({'id': rid, 'type': 'error', 'error': {'type': 'TrainingDivergedError', 'message': str(error), 'details': error.details}})
        except AbortError as error:
            send({'id': rid, 'type': 'error', 'error': {'type': 'AbortError', 'message': str(error)}})
        except (ValueError, KeyError, OSError) as error:
            kind = 'InvalidRequest' if isinstance(error, ValueError) else type(error).__name__
            message = f'missing field {error}' if isinstance(error, KeyError) else str(error)
            send({'id': rid, 'type': 'error', 'error': {'type': kind, 'message': message}})
        except Exception as error:  # noqa: BLE001 - every failure must reach the caller as a line
            traceback.print_exc()
            send({'id': rid, 'type': 'error', 'error': {'type': type(error).__name__, 'message': str(error)}})
        finally:
            cancelled.discard(rid)


if __name__ == '__main__':
    main()
