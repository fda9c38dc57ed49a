#!/usr/bin/python3
"""Writes tests/fixtures/metrics/*.json: seeded random inputs and scikit-learn's metric values.

The unit tests compare src/core/evaluation against these files to 1e-6, so CI needs only the
JSON, not scikit-learn. Run with Debian's interpreter, which has python3-sklearn:

    /usr/bin/python3 scripts/make-metric-goldens.py

ECE and reliability bins have no scikit-learn function; they are computed here with numpy from
the definition in src/core/evaluation/calibration.ts (equal-width bins on the max probability).
Top-k uses argmax's tie rule (lower class index first); it is checked against
sklearn.metrics.top_k_accuracy_score on the cases where no class ties the true class.
"""
import json
import os

import numpy as np
import sklearn
from sklearn import metrics

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "metrics")


def softmax(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def informative_case(seed, count, num_classes, signal):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, size=count)
    logits = rng.normal(0.0, 1.5, size=(count, num_classes))
    logits[np.arange(count), labels] += signal
    return labels, softmax(logits)


def tied_case(seed, count, num_classes, votes):
    """Probabilities are multiples of 1/votes, so scores tie often, within and across rows. The
    last class gets few votes and is never the argmax: a class absent from predictions."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, size=count)
    probs = np.zeros((count, num_classes))
    for i, label in enumerate(labels):
        weights = np.ones(num_classes)
        weights[label] += 1.5
        weights[-1] = 0.15
        weights /= weights.sum()
        counts = rng.multinomial(votes, weights)
        counts[-1] = min(counts[-1], 1)
        counts[0] += votes - counts.sum()
        probs[i] = counts / votes
    assert (probs.argmax(axis=1) != num_classes - 1).all()
    return labels, probs


def absent_label_case(seed, count):
    """Three classes, but no image of the last one: its AUC and AP are undefined."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=count)
    logits = rng.normal(0.0, 1.0, size=(count, 3))
    logits[np.arange(count), labels] += 1.0
    return labels, softmax(logits)


def top_k(labels, probs, k):
    own = probs[np.arange(len(labels)), labels][:, None]
    idx = np.arange(probs.shape[1])[None, :]
    rank = ((probs > own) | ((probs == own) & (idx < labels[:, None]))).sum(axis=1)
    return float((rank < k).mean())


def calibration(labels, probs, bins):
    confidence = probs.max(axis=1)
    predicted = probs.argmax(axis=1)
    which = np.minimum(np.floor(confidence * bins), bins - 1).astype(int)
    out, ece = [], 0.0
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        if n == 0:
            out.append({"lower": b / bins, "upper": (b + 1) / bins, "count": 0, "meanConfidence": None, "accuracy": None})
            continue
        conf = float(confidence[mask].mean())
        acc = float((predicted[mask] == labels[mask]).mean())
        ece += n / len(labels) * abs(acc - conf)
        out.append({"lower": b / bins, "upper": (b + 1) / bins, "count": n, "meanConfidence": conf, "accuracy": acc})
    return {"bins": bins, "ece": ece, "reliability": out}


def floats(a):
    return [float(x) for x in a]


def expected(labels, probs, top_ks, bins, curve_classes):
    num_classes = probs.shape[1]
    all_labels = list(range(num_classes))
    predicted = probs.argmax(axis=1)
    p, r, f, support = metrics.precision_recall_fscore_support(labels, predicted, labels=all_labels, zero_division=0)
    averaged = {}
    for average in ("macro", "micro", "weighted"):
        ap, ar, af, _ = metrics.precision_recall_fscore_support(labels, predicted, labels=all_labels, average=average, zero_division=0)
        averaged[average] = {"precision": float(ap), "recall": float(ar), "f1": float(af)}
    per_class, curves = [], []
    for c in all_labels:
        positive = (labels == c).astype(int)
        scores = probs[:, c]
        entry = {"precision": float(p[c]), "recall": float(r[c]), "f1": float(f[c]), "support": int(support[c])}
        curve = {"class": c, "roc": None, "precisionRecall": None}
        if 0 < positive.sum() < len(positive):
            fpr, tpr, thr = metrics.roc_curve(positive, scores, drop_intermediate=False)
            curve["roc"] = {"fpr": floats(fpr), "tpr": floats(tpr), "thresholds": floats(thr)}
            entry["rocAuc"] = float(metrics.roc_auc_score(positive, scores))
        else:
            entry["rocAuc"] = None
        if positive.sum() > 0:
            prec, rec, thr = metrics.precision_recall_curve(positive, scores)
            curve["precisionRecall"] = {"precision": floats(prec), "recall": floats(rec), "thresholds": floats(thr)}
            entry["averagePrecision"] = float(metrics.average_precision_score(positive, scores))
        else:
            entry["averagePrecision"] = None
        per_class.append(entry)
        if c in curve_classes:
            curves.append(curve)

    defined_auc = [e["rocAuc"] for e in per_class if e["rocAuc"] is not None]
    defined_ap = [e["averagePrecision"] for e in per_class if e["averagePrecision"] is not None]
    if len(defined_auc) == num_classes:
        macro_auc = float(metrics.roc_auc_score(labels, probs, multi_class="ovr", average="macro"))
        assert abs(macro_auc - np.mean(defined_auc)) < 1e-12
    else:
        macro_auc = float(np.mean(defined_auc))
    averaged["macro"]["rocAuc"] = macro_auc
    averaged["macro"]["averagePrecision"] = float(np.mean(defined_ap))

    top = []
    for k in top_ks:
        value = top_k(labels, probs, k)
        own = probs[np.arange(len(labels)), labels][:, None]
        if ((probs == own).sum(axis=1) == 1).all():
            assert abs(value - metrics.top_k_accuracy_score(labels, probs, k=k, labels=all_labels)) < 1e-12
        top.append({"k": k, "accuracy": value})

    return {
        "accuracy": float(metrics.accuracy_score(labels, predicted)),
        "topK": top,
        "perClass": per_class,
        "macro": averaged["macro"],
        "micro": averaged["micro"],
        "weighted": averaged["weighted"],
        "confusion": metrics.confusion_matrix(labels, predicted, labels=all_labels).tolist(),
        "curves": curves,
        "calibration": calibration(labels, probs, bins),
    }


def write(name, description, labels, probs, top_ks, bins, curve_classes=None):
    """Curves are stored for `curve_classes` only (default all), to keep large fixtures small."""
    num_classes = probs.shape[1]
    doc = {
        "description": description,
        "reference": f"scikit-learn {sklearn.__version__}, numpy {np.__version__}",
        "classNames": [f"class-{c}" for c in range(num_classes)],
        "options": {"topK": top_ks, "calibrationBins": bins},
        "labels": [int(x) for x in labels],
        "probs": floats(probs.ravel()),
        "expected": expected(labels, probs, top_ks, bins, curve_classes or range(num_classes)),
    }
    with open(os.path.join(OUT, f"{name}.json"), "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
        fh.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    labels, probs = informative_case(seed=101, count=200, num_classes=4, signal=2.0)
    write("random-200x4", "200 images, 4 classes, softmax of noisy logits", labels, probs, [1, 2, 3], 10)
    labels, probs = informative_case(seed=202, count=500, num_classes=10, signal=2.5)
    write("random-500x10", "500 images, 10 classes, softmax of noisy logits", labels, probs, [1, 3, 5], 15, curve_classes=[0, 7])
    labels, probs = tied_case(seed=303, count=150, num_classes=5, votes=20)
    write("ties-150x5", "150 images, 5 classes, probabilities in steps of 0.05 (many ties); class-4 is never predicted", labels, probs, [1, 2], 10)
    labels, probs = absent_label_case(seed=404, count=60)
    write("absent-label-60x3", "60 images, 3 classes, no image of class-2 (its AUC and AP are undefined)", labels, probs, [1, 2], 5)


if __name__ == "__main__":
    main()
