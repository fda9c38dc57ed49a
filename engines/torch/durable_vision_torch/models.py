"""Model builders for durable-vision's ModelSpec (src/ml/engine.ts), in PyTorch.

Architecture names are the TypeScript ones. small-cnn is src/ml/architectures/small-cnn.ts layer
for layer (and bench/torch_train.py's SmallCnn); the others are torchvision's definitions with
`num_classes`, the first convolution rebuilt when the input has other than 3 channels, and no
pretrained weights (nothing is downloaded). widthMultiplier scales mobilenet-v3 (torchvision's
width_mult), small-cnn and vit-tiny (per-head width, as vit.ts); resnet and efficientnet ignore it.
"""
import math

import torch
import torch.nn as nn
import torchvision
from torchvision.models import mobilenetv3
from torchvision.models.vision_transformer import VisionTransformer

ARCHITECTURES = ('small-cnn', 'mobilenet-v3-small', 'mobilenet-v3-large', 'resnet-18', 'resnet-50', 'efficientnet-b0', 'vit-tiny')
SMALL_CNN_MIN_SIDE = 10
VIT_TINY = {'heads': 3, 'head_dim': 64, 'depth': 12, 'mlp_ratio': 4}


class SpecError(ValueError):
    """A ModelSpec field the builders cannot use; the message names the field and value."""


def _width(base: int, multiplier: float) -> int:
    return max(1, round(base * multiplier))


class SmallCnn(nn.Module):
    """conv3x3(32)-relu-maxpool-conv3x3(64)-relu-maxpool-dense(128)-relu-dropout-dense(classes)."""

    def __init__(self, height: int, width: int, channels: int, classes: int, multiplier: float, dropout: float):
        super().__init__()
        c1, c2, fc = _width(32, multiplier), _width(64, multiplier), _width(128, multiplier)
        self.features = nn.Sequential(
            nn.Conv2d(channels, c1, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3), nn.ReLU(), nn.MaxPool2d(2),
        )
        h, w = ((height - 2) // 2 - 2) // 2, ((width - 2) // 2 - 2) // 2
        self.flatten = nn.Flatten()
        self.fc1 = nn.Sequential(nn.Linear(c2 * h * w, fc), nn.ReLU())
        self.dropout = nn.Dropout(dropout)
        self.logits = nn.Linear(fc, classes)
        for m in self.modules():
            # Glorot-uniform, as the tfjs layers use, so both engines start from the same kind of init.
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def embed(self, x):
        return self.fc1(self.flatten(self.features(x)))

    def forward(self, x):
        return self.logits(self.dropout(self.embed(x)))


def _replace_conv(conv: nn.Conv2d, channels: int) -> nn.Conv2d:
    return nn.Conv2d(channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=conv.bias is not None)


def vit_patch_size(spec: dict) -> int:
    h, w, _ = spec['inputShape']
    return spec.get('patchSize') or (4 if min(h, w) < 64 else 16)


def validate_spec(spec: dict) -> None:
    arch = spec.get('architecture')
    if arch not in ARCHITECTURES:
        raise SpecError(f"model.architecture must be one of {', '.join(ARCHITECTURES)}, got {arch!r}")
    shape = spec.get('inputShape')
    if not (isinstance(shape, list) and len(shape) == 3 and all(isinstance(v, int) and v >= 1 for v in shape)):
        raise SpecError(f'model.inputShape must be [height, width, channels] of integers >= 1, got {shape!r}')
    if shape[2] not in (1, 3):
        raise SpecError(f'model.inputShape channels must be 1 or 3, got {shape[2]}')
    classes = spec.get('numClasses')
    if not (isinstance(classes, int) and classes >= 2):
        raise SpecError(f'model.numClasses must be an integer >= 2, got {classes!r}')
    backbone = spec.get('backbone')
    if backbone is not None:
        if not (isinstance(backbone, dict) and isinstance(backbone.get('topology'), dict)):
            raise SpecError('model.backbone must carry the cut topology (the TypeScript adapter, src/ml/torch-backbone.ts, reads the model.json and adds it)')
        if not (isinstance(backbone.get('cutLayer'), str) and backbone['cutLayer']):
            raise SpecError(f"model.backbone.cutLayer must be a non-empty string, got {backbone.get('cutLayer')!r}")
    m = spec.get('widthMultiplier', 1)
    if not (isinstance(m, (int, float)) and m > 0):
        raise SpecError(f'model.widthMultiplier must be a number > 0, got {m!r}')
    d = spec.get('dropout')
    if d is not None and not (isinstance(d, (int, float)) and 0 <= d < 1):
        raise SpecError(f'model.dropout must be in [0, 1), got {d!r}')
    if arch == 'small-cnn' and min(shape[0], shape[1]) < SMALL_CNN_MIN_SIDE:
        raise SpecError(f'small-cnn needs inputShape height and width >= {SMALL_CNN_MIN_SIDE}, got {shape}')
    if arch == 'vit-tiny':
        patch = vit_patch_size(spec)
        if shape[0] != shape[1]:
            raise SpecError(f'vit-tiny in the torch engine needs a square input, got inputShape {shape}')
        if shape[0] % patch != 0:
            raise SpecError(f'model.patchSize {patch} must divide the input height and width, got inputShape {shape}')


def build_model(spec: dict, seed: int) -> nn.Module:
    """A fresh model for `spec`, its weights drawn from a generator seeded with `seed`."""
    validate_spec(spec)
    torch.manual_seed(seed)
    if spec.get('backbone') is not None:
        from .transfer import TransferModel
        return TransferModel(spec, seed)
    arch = spec['architecture']
    h, w, c = spec['inputShape']
    classes = spec['numClasses']
    mult = float(spec.get('widthMultiplier', 1) or 1)
    dropout = spec.get('dropout')
    if arch == 'small-cnn':
        return SmallCnn(h, w, c, classes, mult, 0.25 if dropout is None else dropout)
    if arch in ('mobilenet-v3-small', 'mobilenet-v3-large'):
        name = arch.replace('-', '_').replace('mobilenet_v3', 'mobilenet_v3')
        setting, last = mobilenetv3._mobilenet_v3_conf(name, width_mult=mult)
        model = mobilenetv3.MobileNetV3(setting, last, num_classes=classes, dropout=0.2 if dropout is None else dropout)
        if c != 3:
            model.features[0][0] = _replace_conv(model.features[0][0], c)
        return model
    if arch in ('resnet-18', 'resnet-50'):
        model = (torchvision.models.resnet18 if arch == 'resnet-18' else torchvision.models.resnet50)(num_classes=classes)
        if c != 3:
            model.conv1 = _replace_conv(model.conv1, c)
        return model
    if arch == 'efficientnet-b0':
        model = torchvision.models.efficientnet_b0(num_classes=classes)
        if dropout is not None:
            model.classifier[0].p = dropout
        if c != 3:
            model.features[0][0] = _replace_conv(model.features[0][0], c)
        return model
    # vit-tiny: DeiT-Ti dims (3 heads x 64, depth 12, MLP 4x), patch size from the spec.
    dim = VIT_TINY['heads'] * max(1, round(VIT_TINY['head_dim'] * mult))
    model = VisionTransformer(image_size=h, patch_size=vit_patch_size(spec), num_layers=VIT_TINY['depth'], num_heads=VIT_TINY['heads'],
                              hidden_dim=dim, mlp_dim=dim * VIT_TINY['mlp_ratio'], dropout=0.0 if dropout is None else dropout, num_classes=classes)
    if c != 3:
        old = model.conv_proj
        model.conv_proj = nn.Conv2d(c, old.out_channels, old.kernel_size, old.stride)
        fan_in = c * old.kernel_size[0] * old.kernel_size[1]
        nn.init.trunc_normal_(model.conv_proj.weight, std=math.sqrt(1 / fan_in))
        nn.init.zeros_(model.conv_proj.bias)
    return model


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def classifier_input(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Penultimate features (the classifier's input), globally pooled, for `embed`."""
    if isinstance(model, SmallCnn):
        return model.embed(x)
    if hasattr(model, 'features') and hasattr(model, 'backbone'):  # transfer.TransferModel
        return model.features(x)
    if isinstance(model, mobilenetv3.MobileNetV3):
        feats = model.avgpool(model.features(x)).flatten(1)
        return model.classifier[:-1](feats)  # up to the last linear (dropout is off in eval)
    if isinstance(model, torchvision.models.ResNet):
        m = model
        x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        x = m.layer4(m.layer3(m.layer2(m.layer1(x))))
        return m.avgpool(x).flatten(1)
    if isinstance(model, torchvision.models.EfficientNet):
        return model.avgpool(model.features(x)).flatten(1)
    if isinstance(model, VisionTransformer):
        x = model._process_input(x)
        x = torch.cat([model.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        return model.encoder(x)[:, 0]
    raise SpecError(f'no embedding for {type(model).__name__}')


def last_conv(model: nn.Module):
    """(name, module) of the last 2-D convolution, for Grad-CAM's default layer."""
    found = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            found = (name, module)
    if found is None:
        raise SpecError(f'{type(model).__name__} has no convolution for Grad-CAM')
    return found
