"""Training throughput of the torch engine's own loop (train.py, as the TypeScript adapter runs
it: uint8 data from files, per-batch scaling, schedule, loss guard, accuracy, checkpoint bytes
every epoch) beside a bare PyTorch loop (bench/torch_train.py's step: zero_grad, forward,
cross-entropy, backward, Adam step, loss.item()) on the same model, batch, device and threads.
No Node needed: bench/gpu-check.sh runs this on a GPU machine.

  python3 -m durable_vision_torch.bench --arch small-cnn --size 28 --channels 1 --batch 256 \
      --steps 200 [--device auto|cpu|cuda] [--threads N] [--precision bf16] [--mode both|engine|bare]

Prints one JSON line: engineImgPerS, bareImgPerS, ratio (engine / bare), device, deviceName.
The engine figure is epoch 2's imagesPerSecond of a 2-epoch run of `steps` batches per epoch
(epoch 1 pays for cuDNN autotuning and allocation); the bare loop times `steps` steps after
`warmup` steps.
"""
import argparse
import json
import os
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn

from .models import build_model
from .train import train


def device_of(name: str) -> torch.device:
    if name == 'cuda' or (name == 'auto' and torch.cuda.is_available()):
        return torch.device('cuda')
    return torch.device('cpu')


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def bare(spec: dict, batch: int, steps: int, warmup: int, device) -> float:
    model = build_model(spec, 1).to(device)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    h, w, c = spec['inputShape']
    pool = [(torch.rand(batch, c, h, w, device=device), torch.randint(0, spec['numClasses'], (batch,), device=device)) for _ in range(4)]

    def step(i):
        x, y = pool[i % len(pool)]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    for i in range(warmup):
        step(i)
    sync(device)
    started = time.perf_counter()
    for i in range(steps):
        step(i)
    sync(device)
    return steps * batch / (time.perf_counter() - started)


def engine(spec: dict, batch: int, steps: int, device, precision) -> float:
    h, w, c = spec['inputShape']
    count = steps * batch
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory(prefix='dv-torch-bench-') as work:
        images, labels = os.path.join(work, 'x.u8'), os.path.join(work, 'y.i32')
        rng.integers(0, 256, count * h * w * c, dtype=np.uint8).tofile(images)
        rng.integers(0, spec['numClasses'], count, dtype=np.int32).tofile(labels)

        class Hooks:
            progress = staticmethod(lambda *_: None)
            epoch_end = staticmethod(lambda *_: None)
            cancelled = staticmethod(lambda: False)

        req = {'model': spec, 'spec': {'epochs': 2, 'batchSize': batch, 'learningRate': 1e-3, 'seed': 1},
               'train': {'images': images, 'labels': labels, 'count': count, 'shape': [h, w, c], 'scaling': '0-1'},
               'progressEvery': 20, **({'precision': precision} if precision else {})}
        return train(req, device, Hooks)['history'][1]['imagesPerSecond']


def main() -> None:
    p = argparse.ArgumentParser(prog='durable_vision_torch.bench')
    p.add_argument('--arch', required=True)
    p.add_argument('--size', type=int, required=True)
    p.add_argument('--channels', type=int, default=3)
    p.add_argument('--classes', type=int, default=10)
    p.add_argument('--batch', type=int, required=True)
    p.add_argument('--steps', type=int, required=True)
    p.add_argument('--warmup', type=int, default=10)
    p.add_argument('--threads', type=int, default=0)
    p.add_argument('--device', default='auto', choices=['auto', 'cpu', 'cuda'])
    p.add_argument('--precision', choices=['bf16'])
    p.add_argument('--mode', default='both', choices=['both', 'engine', 'bare'])
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    device = device_of(a.device)
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True
    spec = {'architecture': a.arch, 'inputShape': [a.size, a.size, a.channels], 'numClasses': a.classes}
    out = {'arch': a.arch, 'size': a.size, 'batch': a.batch, 'steps': a.steps, 'device': str(device),
           'deviceName': torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu', 'threads': torch.get_num_threads(), 'torch': torch.__version__}
    if a.mode in ('both', 'bare'):
        out['bareImgPerS'] = bare(spec, a.batch, a.steps, a.warmup, device)
    if a.mode in ('both', 'engine'):
        out['engineImgPerS'] = engine(spec, a.batch, a.steps, device, a.precision)
    if a.mode == 'both':
        out['ratio'] = out['engineImgPerS'] / out['bareImgPerS']
    print(json.dumps(out), flush=True)


if __name__ == '__main__':
    main()
