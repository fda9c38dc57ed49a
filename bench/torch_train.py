"""PyTorch CPU side of bench/train-vs-pytorch.ts: training and inference images/s of the same
architecture our engine trains, on random data, at a given batch size and thread count.

  python3 bench/torch_train.py --arch small-cnn --size 28 --channels 1 --batch 64 --threads 2 \
      --steps 40 [--warmup 5] [--infer-seconds 2]

Prints one JSON line: {"trainImgPerS", "inferImgPerS", "params", "torch", "threads", ...}.
Run with the PYTHONPATH / LD_LIBRARY_PATH that scripts/install-torch.mjs prints.

Architectures (10 classes unless --classes):
- small-cnn: src/ml/architectures/small-cnn.ts layer for layer: conv3x3(32, valid, bias)-relu-
  maxpool2-conv3x3(64)-relu-maxpool2-flatten-dense(128)-relu-dropout(0.25)-dense(classes).
- mobilenet-v3-small: torchvision.models.mobilenet_v3_small(num_classes); ours follows it layer
  for layer (same stem stride 2 at any input size, SE squeeze, head 576 -> 1024 -> classes,
  dropout 0.2, BN eps 1e-3). Only padding differs (tfjs 'same' is asymmetric on stride 2), which
  changes no parameter count and no FLOPs to speak of.
- resnet-18: torchvision.models.resnet18(num_classes), with the stem conv taking --channels
  inputs; ours keeps the 7x7/2 stem and 3x3/2 max pool at small inputs as torchvision does.
Training step: Adam (lr 1e-3), cross-entropy on logits, train mode (dropout and batch-norm batch
statistics on), loss read back every step (as our loop does). Tensors are NCHW, PyTorch's
default layout. Inference: eval mode under torch.no_grad() at the same batch size.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torchvision


class SmallCnn(nn.Module):
    def __init__(self, size: int, channels: int, classes: int, dropout: float = 0.25):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
        )
        side = ((size - 2) // 2 - 2) // 2
        self.classifier = nn.Sequential(
            nn.Linear(64 * side * side, 128), nn.ReLU(), nn.Dropout(dropout), nn.Linear(128, classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def build(arch: str, size: int, channels: int, classes: int) -> nn.Module:
    if arch == 'small-cnn':
        return SmallCnn(size, channels, classes)
    if arch == 'mobilenet-v3-small':
        model = torchvision.models.mobilenet_v3_small(num_classes=classes)
        if channels != 3:
            stem = model.features[0][0]
            model.features[0][0] = nn.Conv2d(channels, stem.out_channels, 3, 2, 1, bias=False)
        return model
    if arch == 'resnet-18':
        model = torchvision.models.resnet18(num_classes=classes)
        if channels != 3:
            model.conv1 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
        return model
    raise SystemExit(f'unknown --arch {arch!r}; expected small-cnn, mobilenet-v3-small or resnet-18')


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--arch', required=True)
    p.add_argument('--size', type=int, required=True)
    p.add_argument('--channels', type=int, default=3)
    p.add_argument('--classes', type=int, default=10)
    p.add_argument('--batch', type=int, required=True)
    p.add_argument('--threads', type=int, required=True)
    p.add_argument('--steps', type=int, required=True)
    p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--infer-seconds', type=float, default=2.0)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = build(a.arch, a.size, a.channels, a.classes)
    params = sum(t.numel() for t in model.parameters() if t.requires_grad)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    # A pool of random batches, so every step sees new data without timing the generator.
    pool = [(torch.rand(a.batch, a.channels, a.size, a.size), torch.randint(0, a.classes, (a.batch,))) for _ in range(4)]

    def step(i: int) -> float:
        x, y = pool[i % len(pool)]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    model.train()
    for i in range(a.warmup):
        step(i)
    started = time.perf_counter()
    for i in range(a.steps):
        step(i)
    train_seconds = time.perf_counter() - started

    model.eval()
    x = pool[0][0]
    with torch.no_grad():
        for _ in range(2):
            model(x)
        runs = 0
        started = time.perf_counter()
        while runs < 3 or time.perf_counter() - started < a.infer_seconds:
            model(x).sum().item()
            runs += 1
        infer_seconds = time.perf_counter() - started

    print(json.dumps({
        'trainImgPerS': a.steps * a.batch / train_seconds,
        'inferImgPerS': runs * a.batch / infer_seconds,
        'params': params,
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'steps': a.steps,
        'trainSeconds': train_seconds,
    }))


if __name__ == '__main__':
    main()
