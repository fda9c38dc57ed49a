"""Inference on model bytes: predict (softmax probabilities), embed (penultimate features),
Grad-CAM, the inference benchmark (throughput at a batch size, then batch-1 latency, as
src/ml/inference.ts measures), and ONNX export. Each call loads its own model."""
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from .data import Source
from .model_bytes import model_from_bytes
from .models import classifier_input, last_conv
from .train import autocast_context


def load(path: str, device):
    with open(path, 'rb') as f:
        model, spec = model_from_bytes(f.read(), path)
    return model.to(device), spec


def _batches(source: Source, batch_size: int):
    for start in range(0, source.count, batch_size):
        index = torch.arange(start, min(start + batch_size, source.count))
        u8, _ = source.batch(index)
        yield source.scaled(u8)


def _check_batch(batch_size, what='batchSize'):
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f'{what} must be an integer >= 1, got {batch_size!r}')


@torch.no_grad()
def predict(req: dict, device) -> np.ndarray:
    model, spec = load(req['model'], device)
    source = Source(req['data'], 'data', spec['inputShape'], device=device)
    batch = req.get('batchSize') or 256
    _check_batch(batch)
    out = [F.softmax(model(x).float(), dim=1).cpu() for x in _batches(source, batch)]
    return torch.cat(out).numpy().astype(np.float32)


@torch.no_grad()
def embed(req: dict, device):
    model, spec = load(req['model'], device)
    if req.get('layer'):
        raise ValueError(f"layer {req['layer']!r}: the torch engine embeds the classifier's input only; leave layer unset")
    source = Source(req['data'], 'data', spec['inputShape'], device=device)
    batch = req.get('batchSize') or 256
    _check_batch(batch)
    out = torch.cat([classifier_input(model, x).float().cpu() for x in _batches(source, batch)])
    return out.numpy().astype(np.float32), 'classifier-input'


def grad_cam(req: dict, device):
    model, spec = load(req['model'], device)
    source = Source(req['data'], 'data', spec['inputShape'], device=device)
    indices = req['indices']
    for i in indices:
        if not (isinstance(i, int) and 0 <= i < source.count):
            raise ValueError(f'indices must be integers in [0, {source.count}), got {i!r}')
    if req.get('layer'):
        modules = dict(model.named_modules())
        if req['layer'] not in modules:
            raise ValueError(f"layer {req['layer']!r} is not a module of this {spec['architecture']} model")
        name, layer = req['layer'], modules[req['layer']]
    else:
        name, layer = last_conv(model)
    captured = {}
    handle = layer.register_forward_hook(lambda _m, _i, out: captured.__setitem__('a', out))
    try:
        u8, _ = source.batch(torch.tensor(indices, dtype=torch.long))
        x = source.scaled(u8)
        logits = model(x)
        activations = captured['a']
        activations.retain_grad()
        probs = F.softmax(logits.float(), dim=1)
        classes = req.get('classes') or probs.argmax(1).tolist()
        if len(classes) != len(indices):
            raise ValueError(f'classes must hold one class per index ({len(indices)}), got {len(classes)}')
        picked = logits[torch.arange(len(indices)), torch.tensor(classes, device=logits.device)]
        picked.sum().backward()
        weights = activations.grad.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * activations).sum(1))
        flat = cam.view(cam.shape[0], -1)
        top = flat.max(1, keepdim=True).values.clamp_min(1e-12)
        cam = (flat / top).view_as(cam).detach().cpu().numpy().astype(np.float32)
        probabilities = probs[torch.arange(len(indices)), torch.tensor(classes, device=probs.device)].tolist()
    finally:
        handle.remove()
    return cam, {'layer': name, 'height': cam.shape[1], 'width': cam.shape[2], 'classes': classes, 'probabilities': probabilities}


def _percentile(values, p):
    ordered = sorted(values)
    rank = (p / 100) * (len(ordered) - 1)
    lo, hi = int(rank), min(int(rank) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


@torch.no_grad()
def benchmark(req: dict, device) -> dict:
    model, spec = load(req['model'], device)
    source = Source(req['data'], 'data', spec['inputShape'], device=device)
    batch_size = req.get('batchSize') or 64
    seconds = req.get('seconds') or 4
    _check_batch(batch_size, 'benchmark batchSize')
    if not seconds > 0:
        raise ValueError(f'benchmark seconds must be > 0, got {seconds!r}')
    precision = req.get('precision')
    u8, _ = source.batch(torch.arange(batch_size) % source.count)
    batch = source.scaled(u8)
    singles = [source.scaled(source.batch(torch.tensor([i]))[0]) for i in range(min(16, source.count))]

    def run(x):
        with autocast_context(device, precision):
            model(x).float().cpu()  # reading the output back, as the tfjs benchmark does

    def timed(budget, minimum, fn):
        times, deadline = [], time.perf_counter() + budget
        while len(times) < minimum or time.perf_counter() < deadline:
            t0 = time.perf_counter()
            fn(len(times))
            times.append((time.perf_counter() - t0) * 1000)
        return times

    for _ in range(2):
        run(batch)
        run(singles[0])
    batch_times = timed(seconds / 2, 3, lambda _i: run(batch))
    latencies = timed(seconds / 2, 10, lambda i: run(singles[i % len(singles)]))
    return {'throughputImgPerS': len(batch_times) * batch_size / (sum(batch_times) / 1000), 'batchSize': batch_size,
            'latencyMs': {'p50': _percentile(latencies, 50), 'p95': _percentile(latencies, 95), 'mean': statistics.fmean(latencies)},
            'iterations': len(latencies)}


class _Deployed(torch.nn.Module):
    """What the ONNX file computes: NHWC float pixels already scaled (as the tfjs models take
    them) -> class probabilities."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, image):
        return F.softmax(self.model(image.permute(0, 3, 1, 2)), dim=1)


def export_onnx(req: dict) -> dict:
    model, spec = load(req['model'], torch.device('cpu'))
    h, w, c = spec['inputShape']
    opset = int(req.get('opset') or 13)
    wrapped = _Deployed(model).eval()
    torch.onnx.export(wrapped, torch.zeros(1, h, w, c), req['output'], input_names=['image'], output_names=['probabilities'],
                      dynamic_axes={'image': {0: 'batch'}, 'probabilities': {0: 'batch'}}, opset_version=opset, do_constant_folding=True)
    return {'output': req['output'], 'opset': opset, 'inputShape': [h, w, c], 'numClasses': spec['numClasses'], 'inputName': 'image', 'outputName': 'probabilities'}
