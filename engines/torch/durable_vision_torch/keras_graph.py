"""A tfjs/Keras layers model (model.json topology + float32 weights) rebuilt as a PyTorch module,
for transfer learning on the torch engine (ModelSpec.backbone, as src/ml/transfer.ts does for tfjs).

The TypeScript adapter (src/ml/torch-backbone.ts) reads the model.json and its weight shards
(local, file:// or s3://), sets the input shape, cuts the topology at `cutLayer`, dequantizes the
weights and hands over {topology, weights file, weight specs}. This module builds one torch module
per Keras layer and runs the functional graph in topological order.

Tensors of rank 4 are NCHW here (Keras is NHWC); kernels are transposed on load, channel axes of
BatchNormalization, Concatenate and Softmax are mapped, Flatten flattens in Keras's (H, W, C)
order and Reshape works on the NHWC view, so a Dense layer after Flatten takes the stored kernel
as is. 'same' padding is TensorFlow's (the extra row/column at the bottom/right).

Each layer module has `trainable`; a BatchNormalization layer that is not trainable runs in
inference mode (moving statistics, no updates) even while the model trains, as in Keras.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class BackboneError(ValueError):
    """A backbone the torch engine cannot rebuild; the message names the layer, field and value."""


SUPPORTED = (
    'InputLayer', 'Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Dense', 'BatchNormalization', 'Activation', 'ReLU',
    'LeakyReLU', 'ELU', 'Softmax', 'PointwiseActivation', 'Add', 'Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum',
    'Concatenate', 'ChannelScale', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D', 'MaxPooling2D', 'AveragePooling2D',
    'Flatten', 'Reshape', 'ZeroPadding2D', 'UpSampling2D', 'Dropout', 'SpatialDropout2D', 'SeededDropout', 'GaussianNoise',
    'GaussianDropout', 'AlphaDropout',
)


def _pair(v, what: str):
    if isinstance(v, int):
        return (v, v)
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(i, int) for i in v):
        return (v[0], v[1])
    raise BackboneError(f'{what} must be an integer or a pair of integers, got {v!r}')


def _same_pads(size: int, kernel: int, stride: int, dilation: int):
    """TensorFlow's 'same' padding of one spatial axis: (before, after). Sizes are fixed per model (ONNX exports them as constants)."""
    size = int(size)
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _activation(name, where: str):
    name = name or 'linear'
    table = {
        'linear': None,
        'relu': F.relu,
        'relu6': F.relu6,
        'sigmoid': torch.sigmoid,
        'tanh': torch.tanh,
        'elu': F.elu,
        'selu': F.selu,
        'softplus': F.softplus,
        'softsign': F.softsign,
        'swish': F.silu,
        'silu': F.silu,
        'gelu': F.gelu,
        'hard_sigmoid': lambda x: torch.clamp(0.2 * x + 0.5, 0, 1),
        'mish': F.mish,
        'softmax': lambda x: F.softmax(x, dim=1 if x.ndim == 4 else -1),
    }
    if name not in table:
        raise BackboneError(f'{where}: activation {name!r} is not one the torch engine knows ({", ".join(sorted(table))})')
    return table[name]


def _torch_axis(axis: int, rank: int) -> int:
    """A Keras axis (NHWC for rank 4) as the axis of the torch tensor (NCHW for rank 4)."""
    axis = axis % rank
    if rank != 4:
        return axis
    return {0: 0, 1: 2, 2: 3, 3: 1}[axis]


def to_keras_layout(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1) if x.ndim == 4 else x


def from_keras_layout(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 1, 2) if x.ndim == 4 else x


class KerasLayer(nn.Module):
    """Base: `weights` maps Keras weight names (kernel, bias, gamma, ...) to (tensor or buffer name, converter)."""

    def __init__(self, name: str):
        super().__init__()
        self.keras_name = name
        self.trainable = True

    def weight_slots(self) -> dict:
        return {}

    def has_weights(self) -> bool:
        return len(self.weight_slots()) > 0


class PassThrough(KerasLayer):
    def forward(self, x):
        return x


class Conv(nn.Conv2d):
    """Conv2D / DepthwiseConv2D as nn.Conv2d (so Grad-CAM finds it) with TF 'same' padding and the layer's activation."""

    def __init__(self, name: str, cfg: dict, cin: int, depthwise: bool):
        where = f'layer {name!r} ({"DepthwiseConv2D" if depthwise else "Conv2D"})'
        if cfg.get('data_format', 'channels_last') not in ('channels_last', None):
            raise BackboneError(f"{where}: data_format must be 'channels_last', got {cfg.get('data_format')!r}")
        if (cfg.get('groups') or 1) != 1:
            raise BackboneError(f"{where}: groups must be 1, got {cfg.get('groups')!r}")
        k = _pair(cfg['kernel_size'], f'{where} kernel_size')
        s = _pair(cfg.get('strides', 1), f'{where} strides')
        d = _pair(cfg.get('dilation_rate', 1), f'{where} dilation_rate')
        padding = cfg.get('padding', 'valid')
        if padding not in ('same', 'valid'):
            raise BackboneError(f"{where}: padding must be 'same' or 'valid', got {padding!r}")
        mult = cfg.get('depth_multiplier', 1) if depthwise else None
        out = cin * mult if depthwise else cfg['filters']
        super().__init__(cin, out, k, stride=s, dilation=d, groups=cin if depthwise else 1, bias=bool(cfg.get('use_bias', True)))
        self.keras_name = name
        self.trainable = True
        self.same = padding == 'same'
        self.depthwise = depthwise
        self.multiplier = mult
        self.act = _activation(cfg.get('activation'), where)

    def weight_slots(self):
        slots = {('depthwise_kernel' if self.depthwise else 'kernel'): 'weight'}
        if self.bias is not None:
            slots['bias'] = 'bias'
        return slots

    def has_weights(self):
        return True

    def convert(self, key: str, value: np.ndarray) -> np.ndarray:
        if key == 'kernel':  # [kh, kw, in, out] -> [out, in, kh, kw]
            return value.transpose(3, 2, 0, 1)
        if key == 'depthwise_kernel':  # [kh, kw, in, mult] -> [in * mult, 1, kh, kw]; output c * mult + j
            kh, kw, cin, mult = value.shape
            return value.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
        return value

    def forward(self, x):
        if self.same:
            (t, b), (l, r) = (_same_pads(x.shape[2], self.kernel_size[0], self.stride[0], self.dilation[0]),
                              _same_pads(x.shape[3], self.kernel_size[1], self.stride[1], self.dilation[1]))
            if t == b and l == r:
                y = F.conv2d(x, self.weight, self.bias, self.stride, (t, l), self.dilation, self.groups)
            else:
                y = F.conv2d(F.pad(x, (l, r, t, b)), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        else:
            y = F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return y if self.act is None else self.act(y)


class SeparableConv(KerasLayer):
    def __init__(self, name: str, cfg: dict, cin: int):
        super().__init__(name)
        dw_cfg = {**cfg, 'activation': 'linear', 'use_bias': False}
        self.depthwise = Conv(name, dw_cfg, cin, True)
        pw_cfg = {'filters': cfg['filters'], 'kernel_size': 1, 'activation': cfg.get('activation'), 'use_bias': cfg.get('use_bias', True)}
        self.pointwise = Conv(name, pw_cfg, cin * cfg.get('depth_multiplier', 1), False)

    def weight_slots(self):
        slots = {'depthwise_kernel': 'depthwise.weight', 'pointwise_kernel': 'pointwise.weight'}
        if self.pointwise.bias is not None:
            slots['bias'] = 'pointwise.bias'
        return slots

    def convert(self, key, value):
        if key == 'depthwise_kernel':
            return self.depthwise.convert(key, value)
        if key == 'pointwise_kernel':
            return self.pointwise.convert('kernel', value)
        return value

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class Dense(KerasLayer):
    def __init__(self, name: str, cfg: dict, cin: int):
        super().__init__(name)
        self.linear = nn.Linear(cin, cfg['units'], bias=bool(cfg.get('use_bias', True)))
        self.act = _activation(cfg.get('activation'), f'layer {name!r} (Dense)')

    def weight_slots(self):
        slots = {'kernel': 'linear.weight'}
        if self.linear.bias is not None:
            slots['bias'] = 'linear.bias'
        return slots

    def convert(self, key, value):
        return value.T if key == 'kernel' else value

    def forward(self, x):
        if x.ndim == 4:  # Keras applies Dense to the last (channel) axis
            y = self.linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        else:
            y = self.linear(x)
        return y if self.act is None else self.act(y)


class BatchNorm(KerasLayer):
    def __init__(self, name: str, cfg: dict, channels: int, rank: int):
        super().__init__(name)
        axis = cfg.get('axis', -1)
        if isinstance(axis, list):
            axis = axis[0] if len(axis) == 1 else None
        if not isinstance(axis, int) or _torch_axis(axis, rank) != (1 if rank >= 2 else 0) or rank not in (2, 4):
            raise BackboneError(f"layer {name!r} (BatchNormalization): only the channel axis of 2-D or 4-D tensors is supported, got axis {cfg.get('axis')!r} on rank {rank}")
        self.eps = float(cfg.get('epsilon', 1e-3))
        # Keras: moving = moving * momentum + batch * (1 - momentum); torch's momentum is the batch's share.
        self.momentum = 1.0 - float(cfg.get('momentum', 0.99))
        self.weight = nn.Parameter(torch.ones(channels)) if cfg.get('scale', True) else None
        self.bias = nn.Parameter(torch.zeros(channels)) if cfg.get('center', True) else None
        self.register_buffer('running_mean', torch.zeros(channels))
        self.register_buffer('running_var', torch.ones(channels))

    def weight_slots(self):
        slots = {'moving_mean': 'running_mean', 'moving_variance': 'running_var'}
        if self.weight is not None:
            slots['gamma'] = 'weight'
        if self.bias is not None:
            slots['beta'] = 'bias'
        return slots

    def convert(self, key, value):
        return value

    def forward(self, x):
        batch_stats = self.training and self.trainable
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, batch_stats, self.momentum, self.eps)


class Act(KerasLayer):
    def __init__(self, name: str, fn):
        super().__init__(name)
        self.fn = fn

    def forward(self, x):
        return x if self.fn is None else self.fn(x)


def _relu_layer(name: str, cfg: dict):
    max_value = cfg.get('max_value')
    slope = float(cfg.get('negative_slope') or 0)
    threshold = float(cfg.get('threshold') or 0)

    def fn(x):
        y = torch.where(x >= threshold, x, slope * (x - threshold)) if (slope or threshold) else F.relu(x)
        if max_value is not None:
            y = torch.clamp(y, max=float(max_value))
        return y
    return Act(name, fn)


POINTWISE = {
    'hard-swish': lambda x: x * F.relu6(x + 3) / 6,
    'hard-sigmoid': lambda x: F.relu6(x + 3) / 6,
    'swish': F.silu,
    'gelu': F.gelu,
}


class Merge(KerasLayer):
    def __init__(self, name: str, kind: str, axis: int = -1):
        super().__init__(name)
        self.kind = kind
        self.axis = axis

    def forward(self, *xs):
        if self.kind == 'Concatenate':
            return torch.cat(xs, dim=_torch_axis(self.axis, xs[0].ndim))
        if self.kind == 'ChannelScale':
            x, gate = xs
            return x * gate[(...,) + (None,) * (x.ndim - 2)]
        y = xs[0]
        for other in xs[1:]:
            if self.kind in ('Add', 'Average'):
                y = y + other
            elif self.kind == 'Subtract':
                y = y - other
            elif self.kind == 'Multiply':
                y = y * other
            elif self.kind == 'Maximum':
                y = torch.maximum(y, other)
            else:
                y = torch.minimum(y, other)
        return y / len(xs) if self.kind == 'Average' else y


class Pool(KerasLayer):
    def __init__(self, name: str, cfg: dict, kind: str):
        super().__init__(name)
        where = f'layer {name!r} ({kind})'
        self.kind = kind
        self.size = _pair(cfg.get('pool_size', 2), f'{where} pool_size')
        self.stride = _pair(cfg.get('strides') or self.size, f'{where} strides')
        self.padding = cfg.get('padding', 'valid')
        if self.padding not in ('same', 'valid'):
            raise BackboneError(f"{where}: padding must be 'same' or 'valid', got {self.padding!r}")

    def forward(self, x):
        pads = (0, 0, 0, 0)
        if self.padding == 'same':
            (t, b), (l, r) = _same_pads(x.shape[2], self.size[0], self.stride[0], 1), _same_pads(x.shape[3], self.size[1], self.stride[1], 1)
            pads = (l, r, t, b)
        if self.kind == 'MaxPooling2D':
            if any(pads):
                x = F.pad(x, pads, value=float('-inf'))
            return F.max_pool2d(x, self.size, self.stride)
        if not any(pads):
            return F.avg_pool2d(x, self.size, self.stride)
        # TF's 'same' average pooling divides by the number of real (unpadded) pixels.
        ones = F.pad(torch.ones_like(x[:1, :1]), pads)
        return F.avg_pool2d(F.pad(x, pads), self.size, self.stride) / F.avg_pool2d(ones, self.size, self.stride)


class GlobalPool(KerasLayer):
    def __init__(self, name: str, cfg: dict, kind: str):
        super().__init__(name)
        self.max = kind == 'GlobalMaxPooling2D'
        self.keepdims = bool(cfg.get('keepdims', False))

    def forward(self, x):
        y = x.amax(dim=(2, 3), keepdim=self.keepdims) if self.max else x.mean(dim=(2, 3), keepdim=self.keepdims)
        return y


class Flatten(KerasLayer):
    def forward(self, x):
        return to_keras_layout(x).flatten(1)


class Reshape(KerasLayer):
    def __init__(self, name: str, cfg: dict):
        super().__init__(name)
        self.target = [int(v) for v in cfg['target_shape']]

    def forward(self, x):
        y = to_keras_layout(x).reshape(-1, *self.target)
        return from_keras_layout(y)


class ZeroPad(KerasLayer):
    def __init__(self, name: str, cfg: dict):
        super().__init__(name)
        p = cfg.get('padding', 1)
        if isinstance(p, int):
            (t, b), (l, r) = (p, p), (p, p)
        elif isinstance(p, list) and len(p) == 2 and all(isinstance(v, int) for v in p):
            (t, b), (l, r) = (p[0], p[0]), (p[1], p[1])
        elif isinstance(p, list) and len(p) == 2 and all(isinstance(v, list) and len(v) == 2 for v in p):
            (t, b), (l, r) = p
        else:
            raise BackboneError(f"layer {name!r} (ZeroPadding2D): padding must be an integer, [rows, cols] or [[top, bottom], [left, right]], got {p!r}")
        self.pads = (l, r, t, b)

    def forward(self, x):
        return F.pad(x, self.pads)


class UpSample(KerasLayer):
    def __init__(self, name: str, cfg: dict):
        super().__init__(name)
        self.size = _pair(cfg.get('size', 2), f'layer {name!r} (UpSampling2D) size')
        if cfg.get('interpolation', 'nearest') != 'nearest':
            raise BackboneError(f"layer {name!r} (UpSampling2D): only 'nearest' interpolation is supported, got {cfg.get('interpolation')!r}")

    def forward(self, x):
        return x.repeat_interleave(self.size[0], dim=2).repeat_interleave(self.size[1], dim=3)


class Drop(KerasLayer):
    def __init__(self, name: str, rate: float):
        super().__init__(name)
        self.rate = rate

    def forward(self, x):
        return F.dropout(x, self.rate, self.training) if self.rate > 0 else x


def _layer_name(layer: dict) -> str:
    return layer.get('name') or layer.get('config', {}).get('name') or ''


def _inbound(layer: dict, name: str):
    nodes = layer.get('inbound_nodes') or []
    if len(nodes) == 0:
        return []
    if len(nodes) > 1:
        raise BackboneError(f'layer {name!r} is applied {len(nodes)} times (a shared layer); the torch engine rebuilds each layer once')
    edges = []
    for edge in nodes[0]:
        if not (isinstance(edge, list) and len(edge) >= 3 and isinstance(edge[0], str)):
            raise BackboneError(f'layer {name!r}: inbound node {edge!r} is not [layer, node, tensor, kwargs]')
        if edge[1] != 0 or edge[2] != 0:
            raise BackboneError(f'layer {name!r}: takes output {edge[2]} of node {edge[1]} of {edge[0]!r}; only single-output, single-use layers are supported')
        edges.append(edge[0])
    return edges


def _model_config(topology: dict):
    cfg = topology.get('model_config', topology)
    if cfg.get('class_name') not in ('Model', 'Functional'):
        raise BackboneError(f"backbone topology is a {cfg.get('class_name')!r}; the torch engine rebuilds functional models (class Model or Functional)")
    return cfg['config']


def _module_key(name: str) -> str:
    return name.replace('.', '_')


class KerasGraph(nn.Module):
    """The functional graph of `topology` (already cut to its output) for NCHW inputs of `input_shape` [h, w, c]."""

    def __init__(self, topology: dict, input_shape):
        super().__init__()
        cfg = _model_config(topology)
        layers = cfg.get('layers') or []
        inputs = cfg.get('input_layers') or []
        outputs = cfg.get('output_layers') or []
        if len(inputs) != 1 or len(outputs) != 1:
            raise BackboneError(f'backbone must have one input and one output, got {len(inputs)} inputs and {len(outputs)} outputs')
        self.input_name = inputs[0][0]
        self.output_name = outputs[0][0]
        self.order = []
        self.edges = {}
        self.layers = nn.ModuleDict()
        self.keys = {}
        shapes = {}
        h, w, c = input_shape
        with torch.no_grad():
            probe = {}
            for layer in layers:
                name, kind, lcfg = _layer_name(layer), layer.get('class_name'), layer.get('config') or {}
                if not name:
                    raise BackboneError(f'a backbone layer of class {kind!r} has no name')
                if _module_key(name) in self.layers:
                    raise BackboneError(f'two backbone layers are named {name!r}')
                srcs = _inbound(layer, name)
                for s in srcs:
                    if s not in probe:
                        raise BackboneError(f'layer {name!r} takes the output of {s!r}, which comes later or not at all in the topology')
                if kind == 'InputLayer':
                    if name != self.input_name:
                        raise BackboneError(f'backbone has a second input layer {name!r}')
                    module = PassThrough(name)
                    args = [torch.zeros(1, c, h, w)]
                else:
                    if len(srcs) == 0:
                        raise BackboneError(f'layer {name!r} ({kind}) has no inbound layer')
                    args = [probe[s] for s in srcs]
                    module = self._build(name, kind, lcfg, args)
                key = _module_key(name)
                self.layers[key] = module
                self.keys[name] = key
                self.order.append(name)
                self.edges[name] = srcs
                module.eval()
                try:
                    probe[name] = module(*args)
                except BackboneError:
                    raise
                except Exception as error:  # shapes that do not fit
                    raise BackboneError(f'layer {name!r} ({kind}) cannot take inputs of shapes {[list(a.shape) for a in args]}: {error}') from error
                shapes[name] = list(probe[name].shape)
            if self.output_name not in probe:
                raise BackboneError(f'backbone output layer {self.output_name!r} is not in its layer list')
        self.output_shape = shapes[self.output_name]
        self.train()

    @staticmethod
    def _build(name: str, kind: str, cfg: dict, args):
        x = args[0]
        if kind in ('Conv2D', 'DepthwiseConv2D'):
            if x.ndim != 4:
                raise BackboneError(f'layer {name!r} ({kind}) needs a 4-D input, got shape {list(x.shape)}')
            return Conv(name, cfg, x.shape[1], kind == 'DepthwiseConv2D')
        if kind == 'SeparableConv2D':
            return SeparableConv(name, cfg, x.shape[1])
        if kind == 'Dense':
            return Dense(name, cfg, x.shape[1] if x.ndim == 4 else x.shape[-1])
        if kind == 'BatchNormalization':
            return BatchNorm(name, cfg, x.shape[1], x.ndim)
        if kind == 'Activation':
            return Act(name, _activation(cfg.get('activation'), f'layer {name!r} (Activation)'))
        if kind == 'ReLU':
            return _relu_layer(name, cfg)
        if kind == 'LeakyReLU':
            alpha = float(cfg.get('alpha', 0.3))
            return Act(name, lambda t: F.leaky_relu(t, alpha))
        if kind == 'ELU':
            alpha = float(cfg.get('alpha', 1.0))
            return Act(name, lambda t: F.elu(t, alpha))
        if kind == 'Softmax':
            axis = cfg.get('axis', -1)
            return Act(name, lambda t: F.softmax(t, dim=_torch_axis(axis, t.ndim)))
        if kind == 'PointwiseActivation':
            if cfg.get('kind') not in POINTWISE:
                raise BackboneError(f"layer {name!r} (PointwiseActivation): kind must be one of {', '.join(POINTWISE)}, got {cfg.get('kind')!r}")
            return Act(name, POINTWISE[cfg['kind']])
        if kind in ('Add', 'Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum', 'Concatenate', 'ChannelScale'):
            return Merge(name, kind, cfg.get('axis', -1))
        if kind in ('GlobalAveragePooling2D', 'GlobalMaxPooling2D'):
            return GlobalPool(name, cfg, kind)
        if kind in ('MaxPooling2D', 'AveragePooling2D'):
            return Pool(name, cfg, kind)
        if kind == 'Flatten':
            return Flatten(name)
        if kind == 'Reshape':
            return Reshape(name, cfg)
        if kind == 'ZeroPadding2D':
            return ZeroPad(name, cfg)
        if kind == 'UpSampling2D':
            return UpSample(name, cfg)
        if kind in ('Dropout', 'SpatialDropout2D', 'SeededDropout', 'AlphaDropout', 'GaussianDropout'):
            return Drop(name, float(cfg.get('rate', 0) or 0) if kind in ('Dropout', 'SpatialDropout2D', 'SeededDropout') else 0.0)
        if kind == 'GaussianNoise':
            return Drop(name, 0.0)
        raise BackboneError(f"backbone layer {name!r} is a {kind}, which the torch engine cannot rebuild (it rebuilds {', '.join(SUPPORTED)}); "
                            'cut the backbone below it or use engine tfjs')

    def layer(self, name: str) -> KerasLayer:
        return self.layers[self.keys[name]]

    def load_weights(self, values: dict, strict: bool, source: str) -> None:
        """Copies Keras weights ('layer/kernel' -> ndarray) into the modules; strict: each one must be there."""
        missing = []
        for name in self.order:
            module = self.layer(name)
            for key, target in module.weight_slots().items():
                full = f'{name}/{key}'
                if full not in values:
                    missing.append(full)
                    continue
                tensor = module.get_parameter(target) if target in dict(module.named_parameters()) else module.get_buffer(target)
                value = module.convert(key, values[full])
                if tuple(value.shape) != tuple(tensor.shape):
                    raise BackboneError(f'{source}: weight {full} has shape {list(values[full].shape)}, which does not fit layer {name!r} '
                                        f'(torch shape {list(tensor.shape)} from the topology)')
                with torch.no_grad():
                    tensor.copy_(torch.from_numpy(np.ascontiguousarray(value)))
        if strict and missing:
            more = f' and {len(missing) - 5} more' if len(missing) > 5 else ''
            raise BackboneError(f'{source}: no stored weights for {", ".join(missing[:5])}{more} (set model.backbone.strict: false to initialise them)')

    def forward(self, x):
        values = {}
        for name in self.order:
            srcs = self.edges[name]
            values[name] = self.layer(name)(x) if not srcs else self.layer(name)(*[values[s] for s in srcs])
            if name == self.output_name:
                return values[name]
        return values[self.output_name]


def read_weights(path: str, specs: list) -> dict:
    """float32 weights, concatenated in `specs` order ({name, shape}), as name -> ndarray."""
    data = np.fromfile(path, dtype='<f4')
    values, offset = {}, 0
    for spec in specs:
        n = int(math.prod(spec['shape']))
        if offset + n > data.size:
            raise BackboneError(f"{path}: holds {data.size} floats, too few for weight {spec['name']} at offset {offset} (shape {spec['shape']})")
        values[spec['name']] = data[offset:offset + n].reshape(spec['shape'])
        offset += n
    return values
