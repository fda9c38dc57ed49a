"""The training recipe of src/ml/train-loop.ts in PyTorch: losses, the per-step learning-rate
schedule (schedule.ts, same formulas), optimizers with weight decay on weights only (not biases or
normalisation parameters), early stopping (early-stopping.ts). Validation of a TrainSpec names
the field and the value, as the TypeScript side does."""
import math

import torch
import torch.nn.functional as F


class SpecError(ValueError):
    pass


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def validate_train_spec(spec: dict) -> None:
    def need(cond, message):
        if not cond:
            raise SpecError(message)
    need(isinstance(spec.get('epochs'), int) and spec['epochs'] >= 1, f"spec.epochs must be an integer >= 1, got {spec.get('epochs')!r}")
    need(isinstance(spec.get('batchSize'), int) and spec['batchSize'] >= 1, f"spec.batchSize must be an integer >= 1, got {spec.get('batchSize')!r}")
    need(_num(spec.get('learningRate')) and spec['learningRate'] > 0, f"spec.learningRate must be a finite number > 0, got {spec.get('learningRate')!r}")
    need(isinstance(spec.get('seed'), int), f"spec.seed must be an integer, got {spec.get('seed')!r}")
    kind = spec.get('optimizer') or 'adam'
    need(kind in ('adam', 'adamw', 'sgd'), f"spec.optimizer must be 'adam', 'adamw' or 'sgd', got {kind!r}")
    if spec.get('momentum') is not None:
        need(_num(spec['momentum']) and 0 <= spec['momentum'] < 1, f"spec.momentum must be in [0, 1), got {spec['momentum']!r}")
    if spec.get('nesterov'):
        need(kind == 'sgd', f"spec.nesterov applies to the 'sgd' optimizer, got optimizer {kind!r}")
    wd = spec.get('weightDecay')
    need(wd is None or (_num(wd) and wd >= 0), f'spec.weightDecay must be a finite number >= 0, got {wd!r}')
    clip = spec.get('clipNorm')
    need(clip is None or (_num(clip) and clip > 0), f'spec.clipNorm must be a finite number > 0, got {clip!r}')
    loss = spec.get('loss')
    if loss is not None:
        if loss.get('kind') == 'cross-entropy':
            eps = loss.get('labelSmoothing', 0) or 0
            need(_num(eps) and 0 <= eps < 1, f"spec.loss.labelSmoothing must be in [0, 1), got {loss.get('labelSmoothing')!r}")
        elif loss.get('kind') == 'focal':
            need(_num(loss.get('alpha', 0.25)) and loss.get('alpha', 0.25) > 0, f"spec.loss.alpha must be a finite number > 0, got {loss.get('alpha')!r}")
            need(_num(loss.get('gamma', 2)) and loss.get('gamma', 2) >= 0, f"spec.loss.gamma must be a finite number >= 0, got {loss.get('gamma')!r}")
        else:
            raise SpecError(f"spec.loss.kind must be 'cross-entropy' or 'focal', got {loss.get('kind')!r}")
    schedule = spec.get('schedule')
    if schedule is not None:
        warm = schedule.get('warmupEpochs', 0) or 0
        need(_num(warm) and 0 <= warm <= spec['epochs'], f"spec.schedule.warmupEpochs must be a number in [0, epochs = {spec['epochs']}], got {warm!r}")
        k = schedule.get('kind')
        need(k in ('constant', 'cosine', 'step'), f"spec.schedule.kind must be 'constant', 'cosine' or 'step', got {k!r}")
        if k == 'step':
            need(_num(schedule.get('stepEpochs')) and schedule['stepEpochs'] > 0, f"spec.schedule.stepEpochs must be a number > 0, got {schedule.get('stepEpochs')!r}")
            need(_num(schedule.get('gamma')) and 0 < schedule['gamma'] <= 1, f"spec.schedule.gamma must be in (0, 1], got {schedule.get('gamma')!r}")
    es = spec.get('earlyStopping')
    if es is not None:
        need(isinstance(es.get('patience'), int) and es['patience'] >= 1, f"spec.earlyStopping.patience must be an integer >= 1, got {es.get('patience')!r}")
        need(es.get('monitor', 'val_loss') in ('val_loss', 'val_accuracy'), f"spec.earlyStopping.monitor must be 'val_loss' or 'val_accuracy', got {es.get('monitor')!r}")
    stop = spec.get('stopAfterEpoch')
    need(stop is None or (isinstance(stop, int) and 1 <= stop), f'spec.stopAfterEpoch must be an integer >= 1, got {stop!r}')
    unfreeze = spec.get('unfreeze')
    need(unfreeze is None or isinstance(unfreeze, list), f'spec.unfreeze must be a list of steps, got {unfreeze!r}')


def learning_rate_at(spec: dict, step: int, steps_per_epoch: int) -> float:
    schedule = spec.get('schedule') or {'kind': 'constant'}
    peak = spec['learningRate']
    warmup = round((schedule.get('warmupEpochs') or 0) * steps_per_epoch)
    if step < warmup:
        return peak * (step + 1) / warmup
    after = step - warmup
    kind = schedule['kind']
    if kind == 'constant':
        return peak
    if kind == 'cosine':
        low = schedule.get('minLearningRate') or 0
        span = spec['epochs'] * steps_per_epoch - warmup
        if span <= 0:
            return peak
        progress = min(1.0, after / span)
        return low + (peak - low) * (1 + math.cos(math.pi * progress)) / 2
    every = max(1, round(schedule['stepEpochs'] * steps_per_epoch))
    return peak * schedule['gamma'] ** (after // every)


def training_loss(loss_spec, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    if loss_spec is None or loss_spec.get('kind') == 'cross-entropy':
        return F.cross_entropy(logits, labels, label_smoothing=float((loss_spec or {}).get('labelSmoothing') or 0))
    alpha = float(loss_spec.get('alpha', 0.25))
    gamma = float(loss_spec.get('gamma', 2))
    log_pt = F.log_softmax(logits.float(), dim=1).gather(1, labels[:, None])[:, 0]
    ce = -log_pt
    if gamma == 0:
        return alpha * ce.mean()
    modulator = torch.clamp(1 - log_pt.exp(), min=1e-7) ** gamma
    return alpha * (modulator * ce).mean()


def _decays(name: str, p: torch.Tensor) -> bool:
    # Kernels and dense weights decay; biases, norm scales/offsets, tokens and embeddings do not.
    return p.ndim > 1 and 'class_token' not in name and 'pos_embedding' not in name


def create_optimizer(model: torch.nn.Module, spec: dict, parameter_groups=None) -> torch.optim.Optimizer:
    """parameter_groups: [(scale, [(name, parameter)])] (transfer.py's unfreezing groups); default
    every parameter at scale 1. Each becomes a decayed and an undecayed optimizer group whose
    learning rate is `scale` times the scheduled one (see set_learning_rate)."""
    kind = spec.get('optimizer') or 'adam'
    wd = float(spec.get('weightDecay') or 0)
    if parameter_groups is None:
        parameter_groups = [(1.0, [(n, p) for n, p in model.named_parameters() if p.requires_grad])]
    groups = []
    for scale, params in parameter_groups:
        groups.append({'params': [p for n, p in params if _decays(n, p)], 'weight_decay': wd, 'scale': scale})
        groups.append({'params': [p for n, p in params if not _decays(n, p)], 'weight_decay': 0.0, 'scale': scale})
    lr = spec['learningRate']
    if kind == 'sgd':
        return torch.optim.SGD(groups, lr=lr, momentum=float(spec.get('momentum', 0.9) if spec.get('momentum') is not None else 0.9),
                               nesterov=bool(spec.get('nesterov')))
    # epsilon 1e-7 as tfjs' Adam, so both engines take the same steps.
    if kind == 'adamw':
        return torch.optim.AdamW(groups, lr=lr, eps=1e-7)
    return torch.optim.Adam(groups, lr=lr, eps=1e-7)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for g in optimizer.param_groups:
        g['lr'] = lr * g.get('scale', 1.0)


INITIAL_EARLY_STOPPING = {'best': None, 'bestEpoch': 0, 'wait': 0, 'stopped': False}


def observe_epoch(es: dict, state: dict, report: dict):
    monitor = es.get('monitor') or 'val_loss'
    value = report.get('valLoss' if monitor == 'val_loss' else 'valAccuracy')
    if value is None:
        raise SpecError(f"early stopping monitors {monitor}, but epoch {report['epoch']} has no validation metrics")
    delta = es.get('minDelta') or 0
    best = state['best']
    improved = best is None or (value < best - delta if monitor == 'val_loss' else value > best + delta)
    if improved:
        return {'best': value, 'bestEpoch': report['epoch'], 'wait': 0, 'stopped': False}, True
    wait = state['wait'] + 1
    return {**state, 'wait': wait, 'stopped': wait >= es['patience']}, False
