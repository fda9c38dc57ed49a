#!/usr/bin/python3
"""Writes tests/fixtures/iforest/*.json: data sets with scikit-learn IsolationForest anomaly scores.

Each fixture holds `rows`, the indices of the planted outliers, the forest settings and
`sklearnScores` = -score_samples(rows) (scikit-learn's anomaly score s(x) = 2^(-E[h(x)]/c(psi)),
the same quantity IsolationForest.score in src/data/clean/isolation-forest.ts returns), averaged
over several random_state values so the reference is close to the expectation over forests.

Run with Debian's python3-sklearn: /usr/bin/python3 scripts/make-iforest-golden.py
"""
import json
import os

import numpy as np
import sklearn
from sklearn.ensemble import IsolationForest

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "iforest")
TREES = 200
SAMPLE_SIZE = 256
STATES = range(5)


def sklearn_scores(rows):
    total = np.zeros(len(rows))
    for state in STATES:
        forest = IsolationForest(n_estimators=TREES, max_samples=SAMPLE_SIZE, random_state=state).fit(rows)
        total += -forest.score_samples(rows)
    return total / len(STATES)


def blobs():
    """A 2-D Gaussian blob of 1000 points and 10 points far outside it."""
    rng = np.random.default_rng(20240601)
    inliers = rng.normal(0.0, 1.0, size=(1000, 2))
    angles = rng.uniform(0, 2 * np.pi, size=10)
    radii = rng.uniform(5.0, 8.0, size=10)
    outliers = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    rows = np.concatenate([inliers, outliers])
    return rows, list(range(1000, 1010)), "2-D standard normal blob (1000) plus 10 points at radius 5-8"


def mixed():
    """5 features on different scales with two clusters, a skewed feature and 15 outliers."""
    rng = np.random.default_rng(7)
    a = rng.normal([0, 10, 100, 0, 0], [1, 2, 20, 0.5, 1], size=(700, 5))
    b = rng.normal([4, 14, 160, 1, 0], [1, 2, 20, 0.5, 1], size=(300, 5))
    rows = np.concatenate([a, b])
    rows[:, 4] = rng.lognormal(0.0, 0.5, size=1000)
    outliers = rng.normal([2, 12, 130, 0.5, 1], [1, 2, 20, 0.5, 0.3], size=(15, 5))
    # Each outlier is extreme in one or two features only.
    for k in range(15):
        outliers[k, k % 5] += [9, 15, 150, 5, 8][k % 5] * (1 if k % 2 == 0 else -1)
    rows = np.concatenate([rows, outliers])
    return rows, list(range(1000, 1015)), "5 features: two clusters (700/300) on different scales, one log-normal; 15 points pushed out along one feature each (several stay within the other cluster or the skewed tail)"


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, make in [("blobs", blobs), ("mixed", mixed)]:
        rows, outliers, description = make()
        # Scored exactly as stored.
        rows = np.round(rows, 6)
        scores = sklearn_scores(rows)
        fixture = {
            "description": description,
            "generator": "scripts/make-iforest-golden.py",
            "sklearnVersion": sklearn.__version__,
            "trees": TREES,
            "sampleSize": SAMPLE_SIZE,
            "randomStates": len(STATES),
            "outliers": outliers,
            "rows": [[round(float(v), 6) for v in row] for row in rows],
            "sklearnScores": [round(float(s), 6) for s in scores],
        }
        path = os.path.join(OUT, f"{name}.json")
        with open(path, "w") as f:
            json.dump(fixture, f, separators=(",", ":"))
            f.write("\n")
        print(f"{path}: {len(rows)} rows")


if __name__ == "__main__":
    main()
