"""The training loop: one optimizer step per batch, a shuffle order per (seed, epoch), the
recipe of recipe.py, a non-finite-loss guard that stops before the step applies, and a
checkpoint after every epoch (model bytes + training state with optimizer and RNG states) handed
to `hooks.epoch_end`, which blocks until the caller has stored it. A run resumed from a
checkpoint replays the uninterrupted one: the schedule is a function of the global step, the
shuffle of (seed, epoch), and dropout draws continue from the saved RNG state.
"""
import contextlib
import math
import time

import torch
import torch.nn.functional as F

from .data import Source, augment, identity_policy
from .model_bytes import model_from_bytes, model_to_bytes, read_header, state_from_bytes, state_to_bytes
from .models import build_model, count_params
from .recipe import (INITIAL_EARLY_STOPPING, SpecError, create_optimizer, learning_rate_at, observe_epoch, set_learning_rate, training_loss,
                     validate_train_spec)
from .keras_graph import read_weights
from .transfer import TransferModel, apply_trainable, group_parameters, plan_unfreezing, validate_unfreeze

EVAL_BATCH = 256
SHUFFLE_STREAM = 1
AUGMENT_STREAM = 2


class TrainingDivergedError(Exception):
    def __init__(self, message: str, epoch: int, step: int, last_good_epoch: int):
        super().__init__(message)
        self.details = {'epoch': epoch, 'step': step, 'lastGoodEpoch': last_good_epoch}


class AbortError(Exception):
    pass


def derive_seed(*parts: int) -> int:
    """A 63-bit seed mixed from integers (splitmix64 steps), so streams never share draws."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = (h ^ (int(p) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF


def _last_good(epoch: int) -> str:
    return f'the last good checkpoint is epoch {epoch}' if epoch > 0 else 'no checkpoint was written before it'


def autocast_context(device: torch.device, precision):
    if precision == 'bf16' and device.type == 'cuda':
        return torch.autocast('cuda', dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate(model, source: Source, device, precision=None):
    model.eval()
    loss_sum, correct = torch.zeros((), device=device), torch.zeros((), device=device, dtype=torch.long)
    for start in range(0, source.count, EVAL_BATCH):
        index = torch.arange(start, min(start + EVAL_BATCH, source.count))
        u8, labels = source.batch(index)
        with autocast_context(device, precision):
            logits = model(source.scaled(u8)).float()
        loss_sum += F.cross_entropy(logits, labels, reduction='sum')
        correct += (logits.argmax(1) == labels).sum()
    return loss_sum.item() / source.count, correct.item() / source.count


def _rng_state(device):
    state = {'cpu': torch.get_rng_state()}
    if device.type == 'cuda':
        state['cuda'] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state, device):
    torch.set_rng_state(state['cpu'])
    if device.type == 'cuda' and 'cuda' in state:
        torch.cuda.set_rng_state(state['cuda'], device)


def _first_non_finite(model):
    for name, p in model.named_parameters():
        if not torch.isfinite(p).all():
            return name
    return None


def stored_model_spec(model_spec: dict) -> dict:
    """The ModelSpec kept in model bytes: a backbone keeps its cut topology, not the request's weight file."""
    backbone = model_spec.get('backbone')
    if backbone is None:
        return model_spec
    return {**model_spec, 'backbone': {k: v for k, v in backbone.items() if k not in ('weightsFile', 'weightSpecs')}}


def _describe(spec: dict) -> str:
    backbone = spec.get('backbone')
    return f"a backbone cut at {backbone['cutLayer']!r}" if backbone else f"a {spec['architecture']} model"


def train(req: dict, device: torch.device, hooks) -> dict:
    """Runs a train request. `hooks` has progress(epoch, batch, batches), epoch_end(report,
    model_bytes, state_bytes) and cancelled(). Returns {history, paramsCount, model}."""
    spec, model_spec = req['spec'], req['model']
    validate_train_spec(spec)
    train_src = Source(req['train'], 'train', model_spec['inputShape'], model_spec['numClasses'], device)
    val_src = Source(req['val'], 'val', model_spec['inputShape'], model_spec['numClasses'], device) if req.get('val') else None
    if spec.get('earlyStopping') and val_src is None:
        raise SpecError('spec.earlyStopping needs validation data (val), which this run does not have')
    policy = (req.get('augment') or {}).get('policy')
    aug_seed = (req.get('augment') or {}).get('seed', 0)
    if policy is not None and identity_policy(policy):
        policy = None
    precision = req.get('precision')
    progress_every = int(req.get('progressEvery') or 20)
    batch_size = spec['batchSize']
    batches = math.ceil(train_src.count / batch_size)
    seed = spec['seed']

    resume = req.get('resume')
    state = None
    last_model_bytes = None
    if resume is not None:
        with open(resume['model'], 'rb') as f:
            model_bytes = f.read()
        header, _ = read_header(model_bytes, 'resume.model')
        saved = header['spec']
        same_body = (saved.get('backbone') or {}).get('cutLayer') == (model_spec.get('backbone') or {}).get('cutLayer') \
            and (saved.get('backbone') is not None or saved['architecture'] == model_spec['architecture'])
        if list(saved['inputShape']) != list(model_spec['inputShape']) or saved['numClasses'] != model_spec['numClasses'] or not same_body:
            raise SpecError(f"resume checkpoint holds {_describe(saved)} for input {saved['inputShape']} and {saved['numClasses']} classes, "
                            f"but the run asks for {_describe(model_spec)}, input {model_spec['inputShape']} and {model_spec['numClasses']} classes")
        with open(resume['optimizer'], 'rb') as f:
            state = state_from_bytes(f.read(), 'resume.optimizer')
        if state['stepsPerEpoch'] != batches or state['step'] != resume['epoch'] * batches:
            raise SpecError(f"resume checkpoint was written at step {state['step']} with {state['stepsPerEpoch']} batches per epoch, but this run has "
                            f"{batches} batches per epoch ({train_src.count} images in batches of {batch_size}), so epoch {resume['epoch']} ends at step {resume['epoch'] * batches}")
        if state['seed'] != seed:
            raise SpecError(f"resume checkpoint was written with seed {state['seed']}, but the run asks for seed {seed}")
        model, _ = model_from_bytes(model_bytes, 'resume.model')
        if saved.get('backbone') is not None:
            model_spec = {**model_spec, 'backbone': saved['backbone']}  # the cut topology travels in the checkpoint
        last_model_bytes = model_bytes
    else:
        model = build_model(model_spec, seed)
        backbone = model_spec.get('backbone')
        if backbone is not None:
            if not backbone.get('weightsFile'):
                raise SpecError('model.backbone.weightsFile is missing: the TypeScript adapter writes the backbone weights before training')
            values = read_weights(backbone['weightsFile'], backbone.get('weightSpecs') or [])
            model.backbone.load_weights(values, backbone.get('strict', True) is not False, backbone.get('uri') or 'backbone')
    model_spec = stored_model_spec(model_spec)
    groups = None
    if isinstance(model, TransferModel):
        validate_unfreeze(spec.get('unfreeze') or [], spec['epochs'], model)
        groups = plan_unfreezing(model, spec.get('unfreeze') or [])
    elif spec.get('unfreeze'):
        raise SpecError('spec.unfreeze unfreezes backbone layers: set model.backbone too')
    model.to(device)
    optimizer = create_optimizer(model, spec, None if groups is None else [(g['scale'], params) for g, params in group_parameters(model, groups)])
    stopping = None
    best_model = None
    if spec.get('earlyStopping'):
        stopping = dict(state['earlyStopping']) if state is not None and state.get('earlyStopping') else dict(INITIAL_EARLY_STOPPING)
        best_model = state.get('bestModel') if state is not None else None
    if state is not None:
        optimizer.load_state_dict(state['optimizer'])
        _set_rng_state(state['rng'], device)
    # The same seed draws the same dropout masks on every device type from here on.
    elif device.type == 'cuda':
        torch.cuda.manual_seed(derive_seed(seed, 3))

    start_epoch = (resume['epoch'] if resume else 0) + 1
    last_epoch = min(spec['epochs'], spec.get('stopAfterEpoch') or spec['epochs'])
    last_good = resume['epoch'] if resume else 0
    history = []
    clip = spec.get('clipNorm')
    # Frozen parameters get no gradient; clipping and the optimizer skip them.
    params = list(model.parameters())
    for epoch in range(start_epoch, last_epoch + 1):
        if stopping is not None and stopping['stopped']:
            break
        started = time.perf_counter()
        if groups is not None:
            apply_trainable(model, groups, epoch)
        model.train()
        order = torch.randperm(train_src.count, generator=torch.Generator().manual_seed(derive_seed(seed, SHUFFLE_STREAM, epoch)))
        aug_gen = torch.Generator().manual_seed(derive_seed(aug_seed, AUGMENT_STREAM, epoch)) if policy is not None else None
        loss_sum = 0.0
        correct = torch.zeros((), device=device, dtype=torch.long)
        for b in range(batches):
            if hooks.cancelled():
                raise AbortError(f'training aborted before epoch {epoch}, batch {b + 1}')
            index = order[b * batch_size:(b + 1) * batch_size]
            u8, labels = train_src.batch(index)
            if policy is not None:
                x = augment(u8, policy, aug_gen).mul_(train_src.scale)
                if train_src.offset:
                    x.add_(train_src.offset)
            else:
                x = train_src.scaled(u8)
            step = (epoch - 1) * batches + b
            lr = learning_rate_at(spec, step, batches)
            set_learning_rate(optimizer, lr)
            optimizer.zero_grad(set_to_none=True)
            with autocast_context(device, precision):
                logits = model(x)
                loss = training_loss(spec.get('loss'), logits.float(), labels)
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingDivergedError(
                    f'training diverged: the loss is {"NaN" if value != value else value} at epoch {epoch}, step {step + 1} (batch {b + 1} of {batches}, '
                    f'learning rate {lr}); {_last_good(last_good)}. Lower the learning rate or set clipNorm.', epoch, step + 1, last_good)
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(params, clip)
            optimizer.step()
            loss_sum += value * labels.shape[0]
            correct += (logits.detach().argmax(1) == labels).sum()
            if (b + 1) % progress_every == 0 or b == batches - 1:
                hooks.progress(epoch, b + 1, batches)
        bad = _first_non_finite(model)
        if bad is not None:
            raise TrainingDivergedError(
                f'training diverged: weights of {bad} are not finite after epoch {epoch}, step {epoch * batches}; '
                f'{_last_good(last_good)}. Lower the learning rate or set clipNorm.', epoch, epoch * batches, last_good)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        train_seconds = time.perf_counter() - started
        report = {'epoch': epoch, 'loss': loss_sum / train_src.count, 'accuracy': correct.item() / train_src.count,
                  'imagesPerSecond': train_src.count / train_seconds, 'seconds': 0.0}
        if val_src is not None:
            report['valLoss'], report['valAccuracy'] = evaluate(model, val_src, device, precision)
        report['seconds'] = time.perf_counter() - started
        model_bytes = model_to_bytes(model, model_spec)
        if stopping is not None:
            # The best epoch's bytes are kept only while they are not the latest checkpoint's model.
            previous_best = stopping['bestEpoch']
            stopping, improved = observe_epoch(spec['earlyStopping'], stopping, report)
            if improved:
                best_model = None
            elif best_model is None and previous_best == last_good and last_model_bytes is not None:
                best_model = last_model_bytes
        train_state = {'optimizer': optimizer.state_dict(), 'step': epoch * batches, 'stepsPerEpoch': batches, 'seed': seed,
                       'rng': _rng_state(device), 'earlyStopping': stopping, 'bestModel': best_model}
        history.append(report)
        hooks.epoch_end(report, model_bytes, state_to_bytes(train_state))
        last_model_bytes = model_bytes
        last_good = epoch
    final = best_model if best_model is not None else last_model_bytes
    if final is None:
        final = model_to_bytes(model, model_spec)
    return {'history': history, 'paramsCount': count_params(model), 'model': final}
