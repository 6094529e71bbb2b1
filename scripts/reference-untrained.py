#!/usr/bin/python3
"""Reference values for the "still at its initial draw" verdict (src/analysis/initializers.ts and
the untrained-layer rule), computed with NumPy straight from the weight bytes.

For every kernel of examples/training-run/epoch-00N (a TF.js training run, Dense 20-32-16-3) and of
the fixture tfjs-layers/tfjs-e2e-layers-model (Embedding + GRU): whether the layer's bias is still
all zeros, max |x|, the uniform limits of glorot_uniform and he_uniform for the kernel's fans, and
for the GRU kernel its std ratio and KS distance against TF.js's glorot_normal (truncated at 2
sigma, not rescaled) with the KS critical value at the 0.1% level. Writes
test/unit/analysis/diagnostics/untrained.reference.json.

  /usr/bin/python3 scripts/reference-untrained.py
"""
import json
import math
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(ROOT), 'shared', 'fixtures')
OUT = os.path.join(ROOT, 'test', 'unit', 'analysis', 'diagnostics', 'untrained.reference.json')


def load_tfjs(folder):
    model = json.load(open(os.path.join(folder, 'model.json')))
    out = {}
    for group in model['weightsManifest']:
        buf = b''.join(open(os.path.join(folder, p), 'rb').read() for p in group['paths'])
        off = 0
        for w in group['weights']:
            n = int(np.prod(w['shape'])) if w['shape'] else 1
            out[w['name']] = np.frombuffer(buf, np.float32, n, off).astype(np.float64).reshape(w['shape'])
            off += 4 * n
    return out


def kernel_entry(w, bias):
    fan_in, fan_out = w.shape[0], w.shape[-1]
    return {
        'shape': list(w.shape),
        'biasAllZero': bool(np.all(bias == 0)),
        'absMax': float(np.abs(w).max()),
        'glorotUniformLimit': math.sqrt(6 / (fan_in + fan_out)),
        'heUniformLimit': math.sqrt(6 / fan_in),
    }


def ks_distance(sorted_x, cdf):
    n = sorted_x.size
    f = np.array([cdf(v) for v in sorted_x])
    i = np.arange(n)
    return float(max((f - i / n).max(), ((i + 1) / n - f).max()))


ref = {'trainingRun': {}, 'gru': None}
for epoch in range(6):
    name = f'epoch-{epoch:03d}'
    t = load_tfjs(os.path.join(ROOT, 'examples', 'training-run', name))
    ref['trainingRun'][name] = {layer: kernel_entry(t[f'{layer}/kernel'], t[f'{layer}/bias']) for layer in ('dense', 'dense_1', 'dense_2')}

gru_dir = os.path.join(FIXTURES, 'tfjs-layers', 'tfjs-e2e-layers-model')
if os.path.isdir(gru_dir):
    t = load_tfjs(gru_dir)
    k = t['gru_GRU1/kernel']
    fan_in, fan_out = k.shape
    sigma = math.sqrt(2 / (fan_in + fan_out))  # TF.js truncatedNormal stddev parameter (no rescale)
    phi = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))
    z = phi(2) - phi(-2)
    cdf = lambda v: 0 if v <= -2 * sigma else 1 if v >= 2 * sigma else (phi(v / sigma) - phi(-2)) / z
    # std of N(0, 1) truncated to [-2, 2], by quadrature.
    g = np.linspace(-2, 2, 400001)
    d = np.exp(-g * g / 2)
    tn = math.sqrt(float((d * g * g).sum() / d.sum()))
    x = np.sort(k.ravel())
    ref['gru'] = {
        'n': int(x.size),
        'biasAllZero': bool(np.all(t['gru_GRU1/bias'] == 0)),
        'stdRatio': float(x.std() / (sigma * tn)),
        'ks': ks_distance(x, cdf),
        'ksCritical': 1.949 / math.sqrt(x.size),
    }

with open(OUT, 'w') as f:
    json.dump(ref, f, indent=1)
    f.write('\n')
print(json.dumps(ref['gru']), {e: {l: (v['biasAllZero'], round(v['absMax'], 3)) for l, v in r.items()} for e, r in ref['trainingRun'].items()})
