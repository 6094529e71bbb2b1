#!/usr/bin/python3
"""Reference values for src/analysis/precision.ts, computed independently with NumPy.

Writes test/unit/analysis/precision.reference.json: a few generated float32 tensors (with
float16 overflow, subnormals, flush-to-zero, exact rounding ties and an outlier channel) and,
for each, what float16 / bfloat16 / int8 / TF.js uint8 storage does to them.

  /usr/bin/python3 scripts/reference-precision.py

float16: NumPy's own IEEE conversion (x.astype(np.float16)).
bfloat16: NumPy has no bfloat16; values are rounded to 8 significant bits with np.frexp / np.rint
(round half to even) / np.ldexp -- arithmetic, not the bit trick the TypeScript code uses.
int8: symmetric, scale = max|x| / 127 (per tensor, or per last-axis channel), round half away
from zero, clip to [-127, 127] (TFLite's weight quantization).
uint8 affine: the TF.js converter's published algorithm (quantize_weights with the zero point
nudged onto the grid, np.round), re-implemented here.
"""
import json
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'test', 'unit', 'analysis', 'precision.reference.json')


def cast_report(x, y, min_normal):
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    finite = np.isfinite(y)
    overflow = int(np.sum(~finite & np.isfinite(x)))
    underflow = int(np.sum((x != 0) & (y == 0)))
    subnormal = int(np.sum((y != 0) & (np.abs(y) < min_normal) & finite))
    e = (x - y)[finite]
    s = x[finite]
    rel = float(np.sqrt(np.sum(e * e) / np.sum(s * s))) if np.sum(s * s) > 0 else 0.0
    return {
        'overflowCount': overflow,
        'underflowCount': underflow,
        'subnormalCount': subnormal,
        'relativeL2Error': rel,
        'maxAbsError': float(np.max(np.abs(e))) if e.size else 0.0,
    }


def to_bfloat16(x):
    x = x.astype(np.float64)
    m, e = np.frexp(x)  # x = m * 2**e, 0.5 <= |m| < 1
    r = np.rint(m * 256.0) / 256.0  # 8 significant bits, ties to even
    y = np.ldexp(r, e)
    bf16_max = (2 - 2 ** -7) * 2.0 ** 127
    with np.errstate(invalid='ignore'):
        y = np.where(np.abs(y) > bf16_max, np.sign(y) * np.inf, y)
    return y


def sqnr(x, q):
    err = np.sum((x - q) ** 2)
    if err == 0:
        return None
    return float(10 * np.log10(np.sum(x * x) / err))


def round_half_away(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def int8_symmetric(x, scale):
    with np.errstate(divide='ignore', invalid='ignore'):
        q = np.where(scale > 0, np.clip(round_half_away(x / np.where(scale > 0, scale, 1)), -127, 127) * scale, 0.0)
    return q


def tfjs_affine(x):
    lo = float(x.min())
    hi = float(x.max())
    if lo == hi:
        return np.full_like(x, lo), 1.0, lo
    scale = (hi - lo) / 255
    if lo <= 0 <= hi:
        zero = np.round((0 - lo) / scale)
        nmin = -zero * scale
        nmax = 255 * scale + nmin
    else:
        nmin, nmax = lo, hi
    q = np.round((np.clip(x, nmin, nmax) - nmin) / scale)
    return q * scale + nmin, scale, nmin


def report(x32):
    x = x32.astype(np.float64)
    out = {}
    out['fp16'] = cast_report(x, x32.astype(np.float16), 2.0 ** -14)
    out['bf16'] = cast_report(x, to_bfloat16(x32), 2.0 ** -126)
    absmax = float(np.max(np.abs(x)))
    qt = int8_symmetric(x, absmax / 127)
    zeroed = lambda q: float(np.sum((x != 0) & (q == 0)) / x.size)
    out['int8PerTensor'] = {'sqnrDb': sqnr(x, qt), 'maxAbsError': float(np.max(np.abs(x - qt))), 'scale': absmax / 127, 'zeroedFraction': zeroed(qt)}
    ch = np.max(np.abs(x.reshape(-1, x.shape[-1])), axis=0)
    qc = int8_symmetric(x.reshape(-1, x.shape[-1]), ch / 127).reshape(x.shape)
    out['int8PerChannel'] = {'sqnrDb': sqnr(x, qc), 'maxAbsError': float(np.max(np.abs(x - qc))), 'scale': float(np.max(ch) / 127), 'channels': int(x.shape[-1]), 'zeroedFraction': zeroed(qc)}
    qa, scale, nmin = tfjs_affine(x)
    out['uint8Affine'] = {'sqnrDb': sqnr(x, qa), 'maxAbsError': float(np.max(np.abs(x - qa))), 'scale': float(scale), 'min': float(nmin), 'zeroedFraction': zeroed(qa)}
    med = float(np.median(ch))
    idx = [int(i) for i in np.nonzero(ch >= 4 * med)[0]] if med > 0 else []
    out['outlierChannels'] = {'count': len(idx), 'indices': idx[:16], 'worstRatio': float(np.max(ch) / med) if med > 0 else 0.0}
    out['absMax'] = absmax
    return out


def cases():
    rng = np.random.default_rng(20261129)
    # 1. Gaussian weights with one outlier output channel (x40).
    a = rng.normal(0, 0.05, size=(128, 32)).astype(np.float32)
    a[:, 7] *= 40
    yield 'normal-outlier-channel', a
    # 2. float16 edge cases: overflow, the rounding boundary 65520, subnormals, flush to zero,
    #    exact ties for float16 and bfloat16, negative zero.
    b = rng.normal(0, 1, size=(64, 16)).astype(np.float32)
    specials = [65504.0, 65519.99, 65520.0, -70000.0, 1e5, float(np.finfo(np.float32).max), 2.0 ** -25, 3 * 2.0 ** -26, 1e-6, -1e-6, 1e-8, 5e-5, 6.1e-5,
                2.0 ** -14, 1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, -0.0, 0.0,
                np.frombuffer(np.uint32(0x3F808000).tobytes(), np.float32)[0],  # bfloat16 tie, rounds down to even
                np.frombuffer(np.uint32(0x3F818000).tobytes(), np.float32)[0]]  # bfloat16 tie, rounds up to even
    flat = b.reshape(-1)
    flat[:len(specials)] = np.array(specials, dtype=np.float32)
    flat[100:200] *= 1e-5  # a block of small values: some subnormal in float16
    yield 'float16-edges', b
    # 3. The classic tiny init.
    yield 'uniform-0.01', rng.uniform(-0.01, 0.01, size=(64, 64)).astype(np.float32)
    # 4. Positive-only values (no zero nudging in the TF.js affine range).
    yield 'positive-only', rng.uniform(0.5, 2.0, size=(32, 8)).astype(np.float32)
    # 5. A constant tensor.
    yield 'constant', np.full((4, 4), 0.25, dtype=np.float32)
    # 6. A conv kernel [3, 3, 8, 16] with heavy tails (Student t, 3 dof).
    yield 'conv-heavy-tails', (0.02 * rng.standard_t(3, size=(3, 3, 8, 16))).astype(np.float32)


def main():
    out = {'generator': 'scripts/reference-precision.py', 'numpy': np.__version__, 'cases': []}
    for name, x in cases():
        entry = {'name': name, 'shape': list(x.shape), 'values': [float(v) for v in x.reshape(-1)]}
        entry.update(report(x))
        out['cases'].append(entry)
    with open(OUT, 'w') as f:
        json.dump(out, f, indent=None, separators=(',', ':'))
        f.write('\n')
    print('wrote', OUT)


if __name__ == '__main__':
    main()
