#!/usr/bin/python3
"""Reference for the backward forecast across a Flatten (src/analysis/signalPropagation.ts):
a NumPy Monte Carlo of a fresh default Keras CNN, Conv2D(8, 3x3, relu, 'same') x 2 on a
16 x 16 x 3 N(0, 1) input -> Flatten (P = 256 positions x 8 channels) -> Dense(2048 -> 10, softmax),
every kernel glorot_uniform, softmax cross-entropy against random labels.

A kernel's gradient is the sum over the output positions of (input patch x gradient at the
pre-activation). Per sample and per weight it measures the gradient scale^2 each layer's weights
see, divided by the scale^2 of the inputs they multiply, relative to the same quantity of the
Dense kernel (whose gradient is x_i x (p - y)_j):

  R_l = (E[g_l^2] / E[x_l^2]) / (E[g_dense^2] / E[x_dense^2])

which is what the forecast's cumulative backward gain predicts. It also measures the coherence of
the spatial sum, E[(sum_p t_p)^2] / (P E[t_p^2]) for the per-position terms t_p of a kernel
gradient (1 when they add incoherently). Writes test/unit/analysis/signalFlatten.reference.json.

  /usr/bin/python3 scripts/reference-flatten.py
"""
import json
import math
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'test', 'unit', 'analysis', 'signalFlatten.reference.json')
rng = np.random.default_rng(20261130)

H = W = 16
C0, C = 3, 8
K = 3
UNITS = 10
P = H * W
BATCH, TRIALS = 16, 60


def glorot_uniform(shape):
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    limit = math.sqrt(6 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape)


def patches(x):
    """'same' zero padding, stride 1: [B, H, W, Cin] -> [B, H*W, K*K*Cin] in (kh, kw, cin) order."""
    b, h, w, c = x.shape
    pad = K // 2
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    cols = [xp[:, i:i + h, j:j + w, :] for i in range(K) for j in range(K)]
    return np.stack(cols, axis=3).reshape(b, h * w, K * K * c)


def conv_backward_input(delta, kernel):
    """Gradient w.r.t. the conv's input for 'same' padding: correlate with the flipped kernel."""
    b = delta.shape[0]
    d = delta.reshape(b, H, W, kernel.shape[-1])
    flipped = kernel[::-1, ::-1, :, :].transpose(0, 1, 3, 2)  # [K, K, Cout, Cin]
    return (patches(d) @ flipped.reshape(-1, flipped.shape[-1])).reshape(b, H, W, kernel.shape[-2])


acc = {k: [] for k in ('a', 'b', 'dense', 'coh_a', 'coh_b', 'x_a', 'x_b', 'x_d', 'g_a', 'g_b', 'g_d', 'd_out')}
ms = {'a': [], 'b': [], 'dense': []}
for _ in range(TRIALS):
    ka = glorot_uniform((K, K, C0, C))
    kb = glorot_uniform((K, K, C, C))
    kd = glorot_uniform((P * C, UNITS))
    ms['a'].append(float(np.mean(ka ** 2)))
    ms['b'].append(float(np.mean(kb ** 2)))
    ms['dense'].append(float(np.mean(kd ** 2)))
    x0 = rng.standard_normal((BATCH, H, W, C0))
    pa = patches(x0)
    za = pa @ ka.reshape(-1, C)
    xa = np.maximum(za, 0).reshape(BATCH, H, W, C)
    pb = patches(xa)
    zb = pb @ kb.reshape(-1, C)
    xb = np.maximum(zb, 0)
    xd = xb.reshape(BATCH, P * C)
    logits = xd @ kd
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = np.eye(UNITS)[rng.integers(0, UNITS, BATCH)]
    d_out = p - y
    # Per-sample gradients.
    g_d = xd[:, :, None] * d_out[:, None, :]
    d_xb = (d_out @ kd.T).reshape(BATCH, P, C)
    d_zb = d_xb * (zb > 0)
    terms_b = pb[:, :, :, None] * d_zb[:, :, None, :]  # [B, P, K*K*C, C]
    g_b = terms_b.sum(axis=1)
    d_xa = conv_backward_input(d_zb, kb)
    d_za = d_xa.reshape(BATCH, P, C) * (za > 0)
    terms_a = pa[:, :, :, None] * d_za[:, :, None, :]
    g_a = terms_a.sum(axis=1)
    acc['x_a'].append(np.mean(x0 ** 2))
    acc['x_b'].append(np.mean(xa ** 2))
    acc['x_d'].append(np.mean(xd ** 2))
    acc['g_a'].append(np.mean(g_a ** 2))
    acc['g_b'].append(np.mean(g_b ** 2))
    acc['g_d'].append(np.mean(g_d ** 2))
    acc['d_out'].append(np.mean(d_out ** 2))
    acc['coh_a'].append(np.mean(g_a ** 2) / (P * np.mean(terms_a ** 2)))
    acc['coh_b'].append(np.mean(g_b ** 2) / (P * np.mean(terms_b ** 2)))

m = {k: float(np.mean(v)) for k, v in acc.items() if v}
dense_ratio = m['g_d'] / m['x_d']
measured = {'conv_a': (m['g_a'] / m['x_a']) / dense_ratio, 'conv_b': (m['g_b'] / m['x_b']) / dense_ratio}
out = {
    'generator': 'scripts/reference-flatten.py',
    'model': {'input': [H, W, C0], 'convFilters': C, 'kernelSize': K, 'positions': P, 'denseIn': P * C, 'denseUnits': UNITS, 'trials': TRIALS, 'batch': BATCH},
    'meanSquareWeight': {k: float(np.mean(v)) for k, v in ms.items()},
    'measuredRelativeWeightGradient': measured,
    'coherence': {'conv_a': m['coh_a'], 'conv_b': m['coh_b']},
    'outputGradientMeanSquare': m['d_out'],
}
with open(OUT, 'w') as fh:
    json.dump(out, fh, indent=1)
    fh.write('\n')
print(json.dumps(out, indent=1))
