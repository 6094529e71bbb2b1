#!/usr/bin/python3
"""Reference activation constants for src/analysis/signalPropagation.ts, computed with NumPy.

c = E[phi(z)^2] and c' = E[phi'(z)^2] for z ~ N(0, 1), by the trapezoid rule on 2,000,000
panels over [-12, 12] with a node at the kink z = 0 (the code under test uses Simpson's rule on
4,000 panels; Gauss-Hermite quadrature is not used because the integrands have kinks). Writes
test/unit/analysis/signalPropagation.reference.json.

  /usr/bin/python3 scripts/reference-signal.py
"""
import json
import math
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'test', 'unit', 'analysis', 'signalPropagation.reference.json')

x = np.linspace(-12.0, 12.0, 2_000_001)
w = np.full(x.size, x[1] - x[0]) * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
w[0] *= 0.5
w[-1] *= 0.5


def expect(f):
    return float(np.sum(w * f(x)))


erf = np.frompyfunc(math.erf, 1, 1)
Phi = lambda z: 0.5 * (1 + erf(z / math.sqrt(2)).astype(np.float64))
phi = lambda z: np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
sig = lambda z: 1 / (1 + np.exp(-z))
lam, alpha = 1.0507009873554805, 1.6732632423543772

acts = {
    'relu': (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
    'elu': (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))), lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))),
    'selu': (lambda z: lam * np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0))), lambda z: lam * np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0)))),
    'gelu': (lambda z: z * Phi(z), lambda z: Phi(z) + z * phi(z)),
    'swish': (lambda z: z * sig(z), lambda z: sig(z) * (1 + z * (1 - sig(z)))),
    'softplus': (lambda z: np.log1p(np.exp(z)) - math.log(2), sig),
}
out = {'generator': 'scripts/reference-signal.py', 'constants': {k: {'forward': expect(lambda z: f(z) ** 2), 'backward': expect(lambda z: d(z) ** 2)} for k, (f, d) in acts.items()}}
with open(OUT, 'w') as fh:
    json.dump(out, fh, indent=1)
    fh.write('\n')
print('wrote', OUT)
