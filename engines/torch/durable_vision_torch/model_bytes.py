"""Self-describing byte formats the TypeScript side stores without looking inside.

Model bytes:     b'DVTM0001' + uint32le header length + JSON header {spec, params, torch}
                 + torch.save(state_dict). predict/benchmark/export need nothing else.
Optimizer bytes: b'DVTO0001' + torch.save({optimizer state, step, stepsPerEpoch, seed, RNG
                 states, early-stopping state, best model bytes}).
The TypeScript adapter recognises torch models by the first magic (src/ml/torch-model-bytes.ts).
"""
import io
import json
import struct

import torch

from .models import build_model, count_params

MODEL_MAGIC = b'DVTM0001'
STATE_MAGIC = b'DVTO0001'


class FormatError(ValueError):
    pass


def model_to_bytes(model: torch.nn.Module, spec: dict) -> bytes:
    header = json.dumps({'spec': spec, 'params': count_params(model), 'torch': torch.__version__}).encode()
    body = io.BytesIO()
    state = {k: v.detach().to('cpu') for k, v in model.state_dict().items()}
    torch.save(state, body)
    return MODEL_MAGIC + struct.pack('<I', len(header)) + header + body.getvalue()


def read_header(data: bytes, source: str = 'model bytes') -> tuple:
    if len(data) < 12 or data[:8] != MODEL_MAGIC:
        raise FormatError(f'{source}: not a torch-engine model (expected magic DVTM0001, got {data[:8]!r}); '
                          'a model trained by the tfjs engine is predicted by the tfjs engine')
    (length,) = struct.unpack('<I', data[8:12])
    if 12 + length > len(data):
        raise FormatError(f'{source}: header is truncated')
    return json.loads(data[12:12 + length]), 12 + length


def model_from_bytes(data: bytes, source: str = 'model bytes'):
    """(model in eval mode on CPU, spec)."""
    header, start = read_header(data, source)
    spec = header['spec']
    model = build_model(spec, 0)
    state = torch.load(io.BytesIO(data[start:]), map_location='cpu')
    model.load_state_dict(state)
    model.eval()
    return model, spec


def state_to_bytes(state: dict) -> bytes:
    body = io.BytesIO()
    torch.save(state, body)
    return STATE_MAGIC + body.getvalue()


def state_from_bytes(data: bytes, source: str = 'optimizer bytes') -> dict:
    if data[:8] != STATE_MAGIC:
        raise FormatError(f'{source}: not a torch-engine training state (expected magic DVTO0001, got {data[:8]!r}); '
                          'a checkpoint written by the tfjs engine resumes only on the tfjs engine')
    return torch.load(io.BytesIO(data[8:]), map_location='cpu')
