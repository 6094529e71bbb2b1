#!/usr/bin/python3
"""Reference statistics for test/unit/analysis/tensorStats.test.ts, computed with NumPy (float64).

Writes test/unit/analysis/stats.reference.json: for each case the array itself (little-endian bytes
as base64 when under 64 KiB) or an integer formula that the test evaluates identically, plus NumPy's
statistics of the finite values. Run: /usr/bin/python3 scripts/reference-stats.py
"""
import base64
import json
import math
import os
from fractions import Fraction

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'test', 'unit', 'analysis', 'stats.reference.json')
BINS = 64
PERCENTILES = [0.1, 1, 5, 25, 50, 75, 95, 99, 99.9]
KEYS = ['p0.1', 'p1', 'p5', 'p25', 'p50', 'p75', 'p95', 'p99', 'p99.9']


def num(v):
    """JSON-safe float (None for NaN/Inf)."""
    v = float(v)
    return v if math.isfinite(v) else None


def log_histogram(fin, bins):
    """Histogram of log10|x| over non-zero values; layout as documented in src/analysis/tensorStats.ts."""
    a = np.abs(fin[fin != 0])
    if a.size == 0:
        return {'edges': [], 'counts': []}
    mn, mx = float(a.min()), float(a.max())
    lo = math.floor(math.log10(mn))
    hi = math.ceil(math.log10(mx))
    while 10.0 ** lo > mn:
        lo -= 1
    while 10.0 ** hi < mx and hi < 309:
        hi += 1
    if hi <= lo:
        hi = lo + 1
    edges = [float(hi) if i == bins else lo + (i * (hi - lo)) / bins for i in range(bins + 1)]
    thresholds = np.array([10.0 ** e for e in edges])
    idx = np.searchsorted(thresholds, a, side='right') - 1
    idx = np.clip(idx, 0, bins - 1)
    counts = np.bincount(idx, minlength=bins)
    return {'edges': edges, 'counts': [int(c) for c in counts]}


def stats(values):
    a = np.asarray(values, dtype=np.float64)
    fin = a[np.isfinite(a)]
    n = fin.size
    out = {
        'count': int(a.size),
        'nanCount': int(np.isnan(a).sum()),
        'posInfCount': int(np.isposinf(a).sum()),
        'negInfCount': int(np.isneginf(a).sum()),
        'zeroCount': int((fin == 0).sum()),
        'l1': float(np.abs(fin).sum()),
        'l2': float(math.sqrt(np.sum(fin * fin))),
    }
    if n == 0:
        out.update(mean=None, std=None, min=None, max=None, absMax=None, skewness=None, kurtosis=None,
                   nearZeroFraction=0, percentiles={k: None for k in KEYS},
                   histogram={'edges': [], 'counts': []}, logHistogram={'edges': [], 'counts': []})
        return out
    mean = fin.mean()
    d = fin - mean
    m2 = np.mean(d * d)
    m3 = np.mean(d * d * d)
    m4 = np.mean((d * d) * (d * d))
    constant = fin.min() == fin.max()
    abs_max = float(np.abs(fin).max())
    counts, edges = np.histogram(fin, BINS)
    out.update(
        mean=num(mean),
        std=0.0 if constant else num(math.sqrt(m2)),
        min=float(fin.min()),
        max=float(fin.max()),
        absMax=abs_max,
        skewness=None if constant or m2 == 0 else num(m3 / m2 ** 1.5),
        kurtosis=None if constant or m2 == 0 else num(m4 / m2 ** 2 - 3),
        nearZeroFraction=float(np.count_nonzero(np.abs(fin) < 1e-3 * abs_max) / n) if abs_max > 0 else 0,
        percentiles={k: num(v) for k, v in zip(KEYS, np.percentile(fin, PERCENTILES))},
        histogram={'edges': [float(e) for e in edges], 'counts': [int(c) for c in counts]},
        logHistogram=log_histogram(fin, BINS),
    )
    return out


def stored(name, arr, dtype):
    """A case whose bytes are stored in the JSON."""
    raw = np.ascontiguousarray(arr).astype(np.dtype(dtype).newbyteorder('<'), copy=False).tobytes()
    assert len(raw) < 64 * 1024, name
    decoded = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder('<')).astype(np.float64)
    return {'name': name, 'dtype': dtype, 'base64': base64.b64encode(raw).decode('ascii'), 'stats': stats(decoded)}


def exact_moments(values):
    """Mean, std, skewness and excess kurtosis in exact rational arithmetic (every float is a dyadic
    rational), rounded once at the end. Used where float64 NumPy itself loses digits (values whose
    spread is ~1e-8 of their magnitude)."""
    xs = [Fraction(float(v)) for v in np.asarray(values, dtype=np.float64)]
    n = len(xs)
    mean = sum(xs, Fraction(0)) / n
    d = [x - mean for x in xs]
    m2 = sum((v * v for v in d), Fraction(0)) / n
    m3 = sum((v * v * v for v in d), Fraction(0)) / n
    m4 = sum((v * v * v * v for v in d), Fraction(0)) / n
    return {
        'mean': float(mean),
        'std': math.sqrt(float(m2)),
        'skewness': float(m3 / m2) / math.sqrt(float(m2)),
        'kurtosis': float(m4 / (m2 * m2)) - 3,
    }


def formula(name, kind, n, dtype, values, exact=False):
    """A case the test regenerates from (kind, n); `values` must follow the same formula."""
    s = stats(values)
    if exact:
        s['numpyMoments'] = {k: s[k] for k in ('mean', 'std', 'skewness', 'kurtosis')}
        s.update(exact_moments(values))
    return {'name': name, 'dtype': dtype, 'formula': {'kind': kind, 'n': n}, 'exactMoments': exact, 'stats': s}


def main():
    rng = np.random.default_rng(20240611)
    cases = []
    cases.append(stored('normal-f64', rng.normal(0.3, 2.0, 5003), 'float64'))
    cases.append(stored('normal-f32', rng.normal(-0.01, 0.05, 9001).astype(np.float32), 'float32'))
    cases.append(stored('uniform-f32', rng.uniform(-0.2, 0.7, 4113).astype(np.float32), 'float32'))
    cases.append(stored('heavy-tails-t2-f32', rng.standard_t(2.0, 6007).astype(np.float32), 'float32'))
    cases.append(stored('lognormal-f32', rng.lognormal(0.0, 3.0, 3001).astype(np.float32), 'float32'))
    cases.append(stored('constant-f32', np.full(1234, 0.1, dtype=np.float32), 'float32'))
    cases.append(stored('all-zero-f32', np.zeros(777, dtype=np.float32), 'float32'))
    cases.append(stored('int8', rng.integers(-128, 128, 2500).astype(np.int8), 'int8'))
    cases.append(stored('uint8', rng.integers(0, 256, 1999).astype(np.uint8), 'uint8'))
    cases.append(stored('int32', rng.integers(-1_000_000, 1_000_000, 3003).astype(np.int32), 'int32'))
    # float16 bit patterns: normals, subnormals (exponent 0) and zeros of both signs; no Inf/NaN.
    bits = rng.integers(0, 0x7C00, 4001).astype(np.uint16)
    bits[::7] = rng.integers(1, 0x400, bits[::7].size).astype(np.uint16)  # subnormals
    bits[::2] |= 0x8000
    bits[5] = 0x0000
    bits[6] = 0x8000
    cases.append(stored('float16-subnormals', bits.view(np.float16), 'float16'))
    mixed = rng.normal(1.0, 0.5, 2222).astype(np.float32)
    mixed[::97] = np.nan
    mixed[3::101] = np.inf
    mixed[7::89] = -np.inf
    cases.append(stored('nan-inf-mixed-f32', mixed, 'float32'))
    cases.append(stored('only-non-finite-f32', np.array([np.nan, np.inf, -np.inf, np.nan], dtype=np.float32), 'float32'))
    cases.append(stored('empty-f32', np.zeros(0, dtype=np.float32), 'float32'))
    cases.append(stored('single-value-f32', np.array([-3.5], dtype=np.float32), 'float32'))
    cases.append(stored('two-values-f64', np.array([1e-7, 2.5], dtype=np.float64), 'float64'))
    # Two tensors of a few values around the same powers of ten 10^(-20 + 0.625 i), once within
    # [1e-10, 0.3] and once within [1e-20, 1e20]: the same radix bins fall into very different log
    # bins, and a log edge lies inside each of them in the second (values just below and above it).
    around = np.array([10.0 ** (-20 + 0.625 * i) * f for i in range(17, 32) for f in (1 - 2.0 ** -10, 1 + 2.0 ** -10)])
    cases.append(stored('few-log-narrow-f32', np.concatenate([[1e-10, 0.3], around]).astype(np.float32), 'float32'))
    cases.append(stored('few-log-wide-f32', np.concatenate([[2e-20, -5e19], around]).astype(np.float32), 'float32'))

    # Larger arrays from integer formulas (the test evaluates the same formula):
    i = np.arange(300001, dtype=np.int64)
    # all values in one radix bin of float32 keys (1 <= x < 1 + 2^-7): exercises the sub-histogram path
    narrow32 = (1.0 + ((i * 7919) % 65536) * 2.0 ** -23).astype(np.float32)
    cases.append(formula('narrow-f32', 'narrow-f32', i.size, 'float32', narrow32, exact=True))
    i = np.arange(200003, dtype=np.int64)
    # float64 values that differ only in the low word: percentiles are reported with a bound
    narrow64 = 1.0 + ((i * 7919) % 100003) * 2.0 ** -40
    cases.append(formula('narrow-f64', 'narrow-f64', i.size, 'float64', narrow64, exact=True))
    # 70 % exact zeros, the rest spread over [-1, 1]
    sparse = np.where(i % 10 < 7, 0.0, (((i * 7919) % 2001) - 1000) / 1000.0).astype(np.float32)
    cases.append(formula('sparse-f32', 'sparse-f32', i.size, 'float32', sparse))
    ints = ((i * 7919) % 1000 - 500).astype(np.int32)
    cases.append(formula('int-ramp-i32', 'int-ramp-i32', i.size, 'int32', ints))

    with open(OUT, 'w') as f:
        json.dump({'generator': 'scripts/reference-stats.py', 'numpy': np.__version__, 'bins': BINS, 'cases': cases}, f, indent=1)
        f.write('\n')
    print(f'wrote {len(cases)} cases to {os.path.relpath(OUT)}')


if __name__ == '__main__':
    main()
