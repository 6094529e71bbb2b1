#!/usr/bin/python3
"""Reference values for src/runtime/depthwiseGrad.ts, computed independently with NumPy.

Writes test/unit/runtime/depthwiseGrad.reference.json: for a few depthwise convolutions (channel
multiplier > 1, a dilated one, which TF.js's own CPU kernels get wrong, and explicit padding), the
gradients of sum(dy * depthwise_conv(x, w)) with respect to the filter (dW) and the input (dx).

  /usr/bin/python3 scripts/reference-depthwise.py

The convolution is written with array slices of the zero-padded input, one slice per filter tap
(not the per-element loops of the TypeScript code): out[:, :, :, c, m] = sum over (kh, kw) of
xpad[:, kh*dh :: sh, kw*dw :: sw, c] * w[kh, kw, c, m]. Its gradients follow tap by tap with
np.einsum (dW) and by adding each tap's contribution back into a padded dx (dx), float64
throughout. TF's 'same' padding: total = max((ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0), the
smaller half on top/left. The script checks the adjoint identity
<dy, conv(x, w)> = <dW, w> = <dx, x> before writing.

Inputs: x[k] = sin(0.37 k + 0.1), dy[k] = cos(0.23 k + 0.2), w[k] = sin(0.11 k + 0.3) over the
flattened arrays (k = 0, 1, ...), rounded to float32; the test builds the same inputs.
"""
import json
import math
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'test', 'unit', 'runtime', 'depthwiseGrad.reference.json')

CASES = [
    {'x': [2, 7, 6, 3], 'filter': [3, 3, 3, 2], 'strides': [1, 1], 'dilations': [2, 2], 'pad': 'same'},
    {'x': [1, 9, 8, 2], 'filter': [2, 3, 2, 3], 'strides': [1, 1], 'dilations': [2, 1], 'pad': 'valid'},
    {'x': [2, 8, 7, 4], 'filter': [3, 2, 4, 1], 'strides': [2, 3], 'dilations': [1, 1], 'pad': [[0, 0], [1, 2], [0, 1], [0, 0]]},
]


def seq(shape, f):
    n = int(np.prod(shape))
    return f(np.arange(n, dtype=np.float64)).astype(np.float32).astype(np.float64).reshape(shape)


def pads(n, k, s, d, pad, axis):
    eff = (k - 1) * d + 1
    if pad == 'valid':
        return 0, 0
    if pad == 'same':
        total = max((math.ceil(n / s) - 1) * s + eff - n, 0)
        return total // 2, total - total // 2
    return pad[axis][0], pad[axis][1]


def reference(case):
    b, h, w_, c = case['x']
    kh_, kw_, _, m_ = case['filter']
    sh, sw = case['strides']
    dh, dw = case['dilations']
    top, bottom = pads(h, kh_, sh, dh, case['pad'], 1)
    left, right = pads(w_, kw_, sw, dw, case['pad'], 2)
    hp, wp = h + top + bottom, w_ + left + right
    oh = (hp - ((kh_ - 1) * dh + 1)) // sh + 1
    ow = (wp - ((kw_ - 1) * dw + 1)) // sw + 1
    x = seq(case['x'], lambda k: np.sin(0.37 * k + 0.1))
    dy = seq([b, oh, ow, c * m_], lambda k: np.cos(0.23 * k + 0.2))
    w = seq(case['filter'], lambda k: np.sin(0.11 * k + 0.3))
    xpad = np.zeros((b, hp, wp, c))
    xpad[:, top:top + h, left:left + w_, :] = x
    dy5 = dy.reshape(b, oh, ow, c, m_)

    def tap(kh, kw):
        return (slice(None), slice(kh * dh, kh * dh + (oh - 1) * sh + 1, sh), slice(kw * dw, kw * dw + (ow - 1) * sw + 1, sw), slice(None))

    out = np.zeros((b, oh, ow, c, m_))
    dW = np.zeros(case['filter'])
    dxpad = np.zeros_like(xpad)
    for kh in range(kh_):
        for kw in range(kw_):
            patch = xpad[tap(kh, kw)]
            out += patch[..., None] * w[kh, kw]
            dW[kh, kw] = np.einsum('byxc,byxcm->cm', patch, dy5)
            dxpad[tap(kh, kw)] += np.einsum('byxcm,cm->byxc', dy5, w[kh, kw])
    dx = dxpad[:, top:top + h, left:left + w_, :]
    forward = float(np.sum(out * dy5))
    assert abs(forward - float(np.sum(dW * w))) <= 1e-9 * max(1.0, abs(forward)), case
    assert abs(forward - float(np.sum(dx * x))) <= 1e-9 * max(1.0, abs(forward)), case
    return {**case, 'dyShape': [b, oh, ow, c * m_], 'dW': [float(v) for v in dW.ravel()], 'dx': [float(v) for v in dx.ravel()]}


def main():
    with open(OUT, 'w') as f:
        json.dump([reference(c) for c in CASES], f)
        f.write('\n')
    print(f'wrote {os.path.relpath(OUT, ROOT)}')


if __name__ == '__main__':
    main()
