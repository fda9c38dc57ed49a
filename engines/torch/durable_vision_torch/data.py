"""Image sources from the files the TypeScript adapter writes (raw uint8 NHWC pixels, int32
labels) and online augmentation with torch ops.

A source is {images: path, labels: path, count, shape: [h, w, c], scaling: '0-1' | '-1-1'}.
Pixels stay uint8 (NCHW, on the training device when they fit) and are scaled per batch.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

# Datasets up to this size are kept on the accelerator; larger ones are gathered on the host.
DEVICE_RESIDENT_BYTES = 2 << 30


class SourceError(ValueError):
    pass


class Source:
    def __init__(self, desc: dict, what: str, input_shape, num_classes=None, device=torch.device('cpu')):
        shape = desc.get('shape')
        if list(shape or []) != list(input_shape):
            raise SourceError(f'{what}.shape must equal the model inputShape {list(input_shape)}, got {shape}')
        count = desc.get('count')
        if not (isinstance(count, int) and count >= 1):
            raise SourceError(f'{what}.count must be an integer >= 1, got {count!r}')
        scaling = desc.get('scaling')
        if scaling not in ('0-1', '-1-1'):
            raise SourceError(f"{what}.scaling must be '0-1' or '-1-1', got {scaling!r}")
        h, w, c = shape
        pixels = np.fromfile(desc['images'], dtype=np.uint8)
        if pixels.size != count * h * w * c:
            raise SourceError(f'{what}.images must hold count*height*width*channels = {count * h * w * c} bytes, got {pixels.size}')
        labels = np.fromfile(desc['labels'], dtype=np.int32) if desc.get('labels') else np.zeros(count, dtype=np.int32)
        if labels.size != count:
            raise SourceError(f'{what}.labels must hold count = {count} labels, got {labels.size}')
        if num_classes is not None:
            bad = np.nonzero((labels < 0) | (labels >= num_classes))[0]
            if bad.size:
                raise SourceError(f'{what}.labels[{bad[0]}] must be in [0, {num_classes}), got {labels[bad[0]]}')
        nchw = torch.from_numpy(pixels).view(count, h, w, c).permute(0, 3, 1, 2).contiguous()
        self.device = device
        resident = device.type == 'cpu' or nchw.numel() <= DEVICE_RESIDENT_BYTES
        self.images = nchw.to(device) if resident else (nchw.pin_memory() if device.type == 'cuda' else nchw)
        self.labels = torch.from_numpy(labels.astype(np.int64)).to(device)
        self.count = count
        self.scale, self.offset = (1 / 255, 0.0) if scaling == '0-1' else (1 / 127.5, -1.0)

    def scaled(self, u8: torch.Tensor) -> torch.Tensor:
        x = u8.to(self.device, non_blocking=True).float()
        return x.mul_(self.scale).add_(self.offset) if self.offset else x.mul_(self.scale)

    def batch(self, index: torch.Tensor):
        """(uint8 NCHW on the device, labels) for `index` (a CPU int64 tensor)."""
        idx = index.to(self.images.device)
        return self.images.index_select(0, idx), self.labels.index_select(0, index.to(self.labels.device))


def identity_policy(p: dict) -> bool:
    return all(float(p.get(k, 0) or 0) == 0 for k in
               ('rotationDeg', 'shift', 'hflip', 'vflip', 'zoom', 'brightness', 'contrast', 'gaussianNoiseStd', 'saltPepper'))


def augment(u8: torch.Tensor, policy: dict, generator: torch.Generator) -> torch.Tensor:
    """Augments a uint8 NCHW batch; returns float pixels in 0..255 (rounded, clamped).

    The policy's fields and their order are those of src/data/augment.ts: one affine map
    (rotation, zoom, shift, flips) about the centre with bilinear sampling and a black border,
    then brightness and contrast, then Gaussian and salt-and-pepper noise. Random numbers come
    from `generator` (seeded per run, epoch and batch by the caller), so a resumed run draws the
    same ones; they are not the same numbers as the tfjs engine's.
    """
    n, c, h, w = u8.shape
    dev = u8.device
    r = torch.rand(n, 9, generator=generator)
    x = u8.float()
    rot = math.radians(float(policy.get('rotationDeg', 0) or 0)) * (2 * r[:, 0] - 1)
    zoom = 1 + float(policy.get('zoom', 0) or 0) * (2 * r[:, 1] - 1)
    shift = float(policy.get('shift', 0) or 0)
    tx, ty = shift * (2 * r[:, 2] - 1) * 2, shift * (2 * r[:, 3] - 1) * 2  # normalised coords span 2
    fx = torch.where(r[:, 4] < float(policy.get('hflip', 0) or 0), -1.0, 1.0)
    fy = torch.where(r[:, 5] < float(policy.get('vflip', 0) or 0), -1.0, 1.0)
    if bool((rot != 0).any() or (zoom != 1).any() or (tx != 0).any() or (ty != 0).any() or (fx != 1).any() or (fy != 1).any()):
        # Output -> source map: inverse of scale(zoom) . rotate(rot) . flip, plus the inverse shift.
        cos, sin = torch.cos(rot) / zoom, torch.sin(rot) / zoom
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0], theta[:, 0, 1], theta[:, 0, 2] = cos * fx, sin * fx, -tx
        theta[:, 1, 0], theta[:, 1, 1], theta[:, 1, 2] = -sin * fy, cos * fy, -ty
        grid = F.affine_grid(theta.to(dev), [n, c, h, w], align_corners=False)
        x = F.grid_sample(x, grid, mode='bilinear', padding_mode='zeros', align_corners=False).round_().clamp_(0, 255)
    b = float(policy.get('brightness', 0) or 0)
    ct = float(policy.get('contrast', 0) or 0)
    if b or ct:
        add = (b * 255 * (2 * r[:, 6] - 1)).to(dev).view(n, 1, 1, 1)
        factor = (1 + ct * (2 * r[:, 7] - 1)).to(dev).view(n, 1, 1, 1)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = ((x - mean) * factor + mean + add).round_().clamp_(0, 255)
    std = float(policy.get('gaussianNoiseStd', 0) or 0)
    sp = float(policy.get('saltPepper', 0) or 0)
    if std or sp:
        noise_gen = torch.Generator().manual_seed(int(r[0, 8].item() * 2**31))
        if std:
            x = (x + (torch.randn(x.shape, generator=noise_gen) * std).to(dev)).round_().clamp_(0, 255)
        if sp:
            u = torch.rand((n, 1, h, w), generator=noise_gen).to(dev)
            x = torch.where(u < sp / 2, torch.zeros_like(x), torch.where(u < sp, torch.full_like(x, 255.0), x))
    return x
