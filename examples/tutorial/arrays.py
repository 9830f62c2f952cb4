"""numpy arrays next to Python objects, for docs/tutorials.md."""
import numpy as np


def load_features(n):
    return np.random.default_rng(1).random((n, 64))        # n * 64 float64


def normalise(features):
    return (features - features.mean(axis=0)) / features.std(axis=0)


def labels(n):
    return ["label-%d" % i for i in range(n)]


features = load_features(200_000)
scaled = normalise(features)
names = labels(200_000)
print(scaled.shape, len(names))
