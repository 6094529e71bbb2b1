#!/usr/bin/python3
"""Reference values for the power of the "still at its initial draw" test (untrained-layer rule):
an independent NumPy implementation of the test (std within max(0.05, 3.29 sqrt((kappa+2)/(4n)))
of the candidate's, KS <= 1.949/sqrt(n), at most 0.1% of the values beyond 1.01x the candidate's
hard bound, |mean| <= 4.5 std/sqrt(n), and for matrices whose smaller side is >= 8 the largest
singular value <= 1.06 (1.2 below 32) x rms (sqrt(rows) + sqrt(cols))), applied to fresh draws
moved by a rank-1 update u v^T of 25% of their norm; the detection rate over 400 draws is the power.

Cases: the fixture keras-h5/teachable-machine-nested-keras2.4 head kernel dense_Dense2 [100, 2]
(Keras lecun_normal: truncated normal, stddev sqrt(1/100)/0.8796, cut at 2 stddev), whose own
statistics are read with h5py, and the two in-memory layers of untrained.test.ts: a [256, 128]
glorot_uniform kernel and a [24, 4] RandomNormal(0, 0.05) kernel.
Writes test/unit/analysis/diagnostics/untrainedPower.reference.json.

  /usr/bin/python3 scripts/reference-untrained-power.py
"""
import json
import math
import os

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(ROOT), 'shared', 'fixtures')
REL = 'keras-h5/teachable-machine-nested-keras2.4/keras_model.h5'
OUT = os.path.join(ROOT, 'test', 'unit', 'analysis', 'diagnostics', 'untrainedPower.reference.json')
TN = 0.87962566103423978
UPDATE = 0.25
TRIALS = 400
rng = np.random.default_rng(777)
erf = np.vectorize(math.erf)


def truncated(shape, stddev):
    out = rng.normal(0, stddev, shape)
    while True:
        bad = np.abs(out) > 2 * stddev
        if not bad.any():
            return out
        out[bad] = rng.normal(0, stddev, bad.sum())


# Candidates: (draw, cdf, std, bound, excess kurtosis)
def c_truncated(stddev):
    z = math.erf(2 / math.sqrt(2))
    cdf = lambda x: (erf(np.clip(x, -2 * stddev, 2 * stddev) / (stddev * math.sqrt(2))) + z) / (2 * z)
    return (lambda s: truncated(s, stddev), cdf, stddev * TN, 2 * stddev, -0.6334)


def c_uniform(limit):
    return (lambda s: rng.uniform(-limit, limit, s), lambda x: np.clip((x + limit) / (2 * limit), 0, 1), limit / math.sqrt(3), limit, -1.2)


def c_normal(stddev):
    return (lambda s: rng.normal(0, stddev, s), lambda x: 0.5 * (1 + erf(x / (stddev * math.sqrt(2)))), stddev, None, 0.0)


def flagged(w, cand):
    _, cdf, std_c, bound, kappa = cand
    x = np.sort(w.ravel())
    n = x.size
    std = x.std()
    if abs(math.log(std / std_c)) > max(0.05, 3.2905 * math.sqrt((kappa + 2) / (4 * n))):
        return True
    f = cdf(x)
    i = np.arange(n)
    if max((f - i / n).max(), ((i + 1) / n - f).max()) > 1.949 / math.sqrt(n):
        return True
    if bound is not None and (np.abs(x) > 1.01 * bound + 1e-12).mean() > 0.001:
        return True
    if abs(x.mean()) / (std / math.sqrt(n)) > 4.5:
        return True
    r, c = w.shape
    if min(r, c) >= 8:
        rms = math.sqrt((w ** 2).mean())
        s = np.linalg.svd(w, compute_uv=False)[0]
        if s / (rms * (math.sqrt(r) + math.sqrt(c))) > (1.06 if min(r, c) >= 32 else 1.2):
            return True
    return False


def power(shape, cand):
    hits = 0
    for _ in range(TRIALS):
        w = cand[0](shape)
        u = rng.standard_normal(shape[0])
        v = rng.standard_normal(shape[1])
        w = w + UPDATE * np.linalg.norm(w) * np.outer(u / np.linalg.norm(u), v / np.linalg.norm(v))
        hits += flagged(w, cand)
    return hits / TRIALS


with h5py.File(os.path.join(FIXTURES, REL), 'r') as h:
    head = h['model_weights/sequential_3/dense_Dense2/kernel:0'][()].astype(np.float64)
lecun = c_truncated(math.sqrt(1 / 100) / TN)
out = {
    'generator': 'scripts/reference-untrained-power.py',
    'update': UPDATE,
    'trials': TRIALS,
    'fixture': {
        'path': REL,
        'tensor': 'sequential_3/dense_Dense2/kernel:0',
        'shape': list(head.shape),
        'stdRatio': float(head.std() / lecun[2]),
        'maxOverBound': float(np.abs(head).max() / lecun[3]),
        'beyondBound': int((np.abs(head) > lecun[3]).sum()),
        'flaggedAsIs': bool(flagged(head, lecun)),
        'power': power(head.shape, lecun),
    },
    'bigGlorotUniform': {'shape': [256, 128], 'power': power((256, 128), c_uniform(math.sqrt(6 / 384)))},
    'mediumGlorotUniform': {'shape': [128, 96], 'power': power((128, 96), c_uniform(math.sqrt(6 / 224)))},
    'smallRandomNormal': {'shape': [24, 4], 'power': power((24, 4), c_normal(0.05))},
}
with open(OUT, 'w') as fh:
    json.dump(out, fh, indent=1)
    fh.write('\n')
print(json.dumps(out, indent=1))
