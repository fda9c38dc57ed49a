"""Transfer learning on the torch engine, as src/ml/transfer.ts does on tfjs: a pretrained tfjs
layers model (keras_graph.py) cut at a layer, frozen, with a new head (global average pooling
for 4-D features or flatten, dropout, dense logits), and progressive unfreezing on an epoch
schedule.

Unfreezing groups: group 0 is the head; group k holds the backbone layers unfreeze step k (steps
ordered by afterEpochs, ties in the given order) opens first. Which layers train at epoch e, and
at what learning-rate scale, is a function of (spec, e). Each group's parameters sit in their own
optimizer parameter groups with the step's `learningRateScale`; parameters of frozen layers get
no gradient, so the optimizer skips them and Adam's bias correction starts when they unfreeze,
as with the tfjs engine's per-group optimizers.
"""
import math

import torch
import torch.nn as nn

from .keras_graph import BackboneError, KerasGraph, to_keras_layout


class TransferModel(nn.Module):
    def __init__(self, spec: dict, seed: int):
        super().__init__()
        backbone = spec['backbone']
        self.backbone = KerasGraph(backbone['topology'], spec['inputShape'])
        shape = self.backbone.output_shape
        features = shape[1] if len(shape) == 4 else int(math.prod(shape[1:]))
        self.pool = len(shape) == 4
        dropout = spec.get('dropout')
        self.dropout = nn.Dropout(0.0 if dropout is None else dropout)
        generator = torch.Generator().manual_seed(int(seed) & 0x7FFFFFFFFFFFFFFF)
        self.logits = nn.Linear(features, spec['numClasses'])
        with torch.no_grad():
            bound = math.sqrt(6 / (features + spec['numClasses']))  # Glorot-uniform, as the tfjs head
            self.logits.weight.copy_(torch.rand(self.logits.weight.shape, generator=generator) * 2 * bound - bound)
            self.logits.bias.zero_()

    def features(self, x):
        f = self.backbone(x)
        if self.pool:
            return f.mean(dim=(2, 3))
        return to_keras_layout(f).flatten(1) if f.ndim > 2 else f

    def forward(self, x):
        return self.logits(self.dropout(self.features(x)))


def head_parameters(model: TransferModel):
    return list(model.logits.parameters())


def backbone_layers(model: TransferModel):
    """Backbone layer names in topological order, the input layer excluded."""
    graph = model.backbone
    return [n for n in graph.order if n != graph.input_name]


def _has_weights(module: nn.Module) -> bool:
    return any(True for _ in module.parameters()) or any(True for _ in module.buffers())


def validate_unfreeze(steps, epochs: int, model: TransferModel = None) -> None:
    for i, s in enumerate(steps):
        what = f'spec.unfreeze[{i}]'
        after = s.get('afterEpochs')
        if not (isinstance(after, int) and not isinstance(after, bool) and after >= 0):
            raise BackboneError(f'{what}.afterEpochs must be an integer >= 0, got {after!r}')
        if after >= epochs:
            raise BackboneError(f'{what}.afterEpochs is {after}, so it would never apply in a run of {epochs} epochs')
        layers = s.get('layers')
        ok = layers == 'all' or (isinstance(layers, int) and not isinstance(layers, bool) and layers >= 1) \
            or (isinstance(layers, dict) and isinstance(layers.get('fromLayer'), str) and layers['fromLayer'])
        if not ok:
            raise BackboneError(f"{what}.layers must be 'all', an integer >= 1 or {{ fromLayer: <layer name> }}, got {layers!r}")
        scale = s.get('learningRateScale', 1)
        if scale is None:
            scale = 1
        if not (isinstance(scale, (int, float)) and 0 < scale <= 1):
            raise BackboneError(f'{what}.learningRateScale must be in (0, 1], got {scale!r}')
        if model is not None and isinstance(layers, dict) and layers['fromLayer'] not in backbone_layers(model):
            raise BackboneError(f"{what}.layers.fromLayer: the backbone has no layer {layers['fromLayer']!r} (below the cut)")


def plan_unfreezing(model: TransferModel, steps) -> list:
    """[{layers: [names] | None for the head, fromEpoch, scale}], group 0 the head."""
    names = backbone_layers(model)
    weighted = [n for n in names if _has_weights(model.backbone.layer(n))]
    groups = [{'layers': None, 'fromEpoch': 1, 'scale': 1.0}]
    assigned = set()
    ordered = sorted(enumerate(steps or []), key=lambda p: (p[1]['afterEpochs'], p[0]))
    for i, s in ordered:
        layers = s['layers']
        if layers == 'all':
            chosen = names
        elif isinstance(layers, int):
            chosen = weighted[-layers:]
        else:
            at = names.index(layers['fromLayer'])
            chosen = names[at:]
        fresh = [n for n in chosen if n not in assigned]
        assigned.update(fresh)
        scale = s.get('learningRateScale')
        groups.append({'layers': fresh, 'fromEpoch': s['afterEpochs'] + 1, 'scale': float(1 if scale is None else scale)})
    return groups


def group_parameters(model: TransferModel, groups: list) -> list:
    """[(group, [(name, parameter)])] in group order."""
    out = []
    for g in groups:
        if g['layers'] is None:
            params = [(f'logits.{n}', p) for n, p in model.logits.named_parameters()]
        else:
            params = [(f'backbone.{model.backbone.keys[l]}.{n}', p) for l in g['layers'] for n, p in model.backbone.layer(l).named_parameters()]
        out.append((g, params))
    return out


def apply_trainable(model: TransferModel, groups: list, epoch: int) -> None:
    """Every backbone layer trains iff its group has started by `epoch` (1-based); the rest stay frozen."""
    active = set()
    for g in groups[1:]:
        if epoch >= g['fromEpoch']:
            active.update(g['layers'])
    for name in backbone_layers(model):
        module = model.backbone.layer(name)
        on = name in active
        module.trainable = on
        for p in module.parameters():
            p.requires_grad_(on)
    for p in model.logits.parameters():
        p.requires_grad_(True)
