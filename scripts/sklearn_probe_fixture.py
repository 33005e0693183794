#!/usr/bin/python3
"""Writes test/fixtures/learn/sklearn-probe.json: vectors plus scikit-learn reference outputs.

The TypeScript linear probe and kNN classifier (src/main/engine/learn) are compared to these numbers in
test/unit/learn-sklearn.test.ts. Run with Debian's python3 (apt-get install python3-sklearn):

    /usr/bin/python3 scripts/sklearn_probe_fixture.py

Vectors: 5 overlapping Gaussian classes in 32 dims with a shared offset and unequal class sizes and spreads,
so accuracy is well below 1 and the probabilities are far from 0/1 (a probe that is merely "close" would show).
"""
import json
import os

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

rng = np.random.default_rng(20261125)
dims, classes = 32, 5
class_ids = np.array([0, 2, 3, 7, 11])  # sparse ids, as in a project's class table
offset = rng.normal(0, 2.0, dims)
centres = offset + rng.normal(0, 0.3, (classes, dims))
spread = np.array([1.0, 1.3, 0.8, 1.6, 1.1])
sizes_train = np.array([90, 60, 45, 30, 15])
sizes_test = np.array([40, 30, 25, 15, 10])


def sample(sizes):
    xs, ys = [], []
    for c, n in enumerate(sizes):
        xs.append(centres[c] + spread[c] * rng.normal(0, 1.0, (n, dims)))
        ys.append(np.full(n, class_ids[c]))
    x = np.concatenate(xs).astype(np.float32)
    y = np.concatenate(ys)
    order = rng.permutation(len(y))
    return x[order], y[order]


train_x, train_y = sample(sizes_train)
test_x, test_y = sample(sizes_test)
# Round to what JSON carries so both sides see identical inputs.
train_x = np.round(train_x, 5).astype(np.float64)
test_x = np.round(test_x, 5).astype(np.float64)

C = dims * classes / 100
scaler = StandardScaler().fit(train_x)
probe = LogisticRegression(C=C, multi_class="multinomial", solver="lbfgs", max_iter=10000, tol=1e-10)
probe.fit(scaler.transform(train_x), train_y)
proba = probe.predict_proba(scaler.transform(test_x))
pred = probe.predict(scaler.transform(test_x))


def knn(k):
    model = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute", weights="uniform")
    model.fit(train_x, train_y)
    return model.predict(test_x)


knn1, knn20 = knn(1), knn(20)
out = {
    "generator": "scripts/sklearn_probe_fixture.py",
    "sklearn": sklearn.__version__,
    "dims": dims,
    "C": C,
    "classes": class_ids.tolist(),
    "trainX": train_x.ravel().tolist(),
    "trainY": train_y.tolist(),
    "testX": test_x.ravel().tolist(),
    "testY": test_y.tolist(),
    "linear": {
        "probabilities": np.round(proba, 7).ravel().tolist(),
        "predicted": pred.tolist(),
        "accuracy": accuracy_score(test_y, pred),
        "weightedF1": f1_score(test_y, pred, average="weighted"),
        "macroF1": f1_score(test_y, pred, average="macro"),
        "balancedAccuracy": balanced_accuracy_score(test_y, pred),
    },
    "knn1": {"predicted": knn1.tolist(), "accuracy": accuracy_score(test_y, knn1)},
    "knn20": {
        "predicted": knn20.tolist(),
        "accuracy": accuracy_score(test_y, knn20),
        "weightedF1": f1_score(test_y, knn20, average="weighted"),
        "balancedAccuracy": balanced_accuracy_score(test_y, knn20),
    },
}
path = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "learn", "sklearn-probe.json")
with open(path, "w") as f:
    json.dump(out, f, separators=(",", ":"))
print(json.dumps({k: out[k] for k in ("sklearn", "dims", "C")}), "linear acc", out["linear"]["accuracy"],
      "knn1", out["knn1"]["accuracy"], "knn20", out["knn20"]["accuracy"])
