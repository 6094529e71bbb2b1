#!/usr/bin/python3
"""Independent reference values for the fixture corpus test.

Reads the shared fixtures with h5py (Keras HDF5, Keras 3 .keras/.weights.h5) and with plain JSON +
NumPy (TF.js model.json + shards, including uint8 dequantization), computes every tensor's statistics
in float64 with NumPy, and writes test/unit/formats/corpus.reference.json.

Run with Debian's python3 (python3-numpy, python3-h5py):  npm run refs
"""
import io
import json
import os
import sys
import tempfile
import zipfile

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(ROOT), 'shared', 'fixtures')
OUT = os.path.join(ROOT, 'test', 'unit', 'formats', 'corpus.reference.json')
PCTS = [0.1, 1, 5, 25, 50, 75, 95, 99, 99.9]


def stats(values):
    a = np.asarray(values, dtype=np.float64).ravel()
    finite = a[np.isfinite(a)]
    out = {
        'count': int(a.size),
        'nanCount': int(np.isnan(a).sum()),
        'posInfCount': int(np.isposinf(a).sum()),
        'negInfCount': int(np.isneginf(a).sum()),
        'zeroCount': int((a == 0).sum()),
    }
    if finite.size == 0:
        out.update(mean=None, std=None, min=None, max=None, l1=0.0, l2=0.0, absMax=None,
                   skewness=None, kurtosis=None, nearZeroFraction=0.0,
                   percentiles={f'p{p:g}': None for p in PCTS}, histogram=None)
        return out
    mean = finite.mean()
    d = finite - mean
    m2 = (d * d).mean()
    std = float(np.sqrt(m2))
    absmax = float(np.abs(finite).max())
    out.update(
        mean=float(mean), std=std, min=float(finite.min()), max=float(finite.max()),
        l1=float(np.abs(finite).sum()), l2=float(np.sqrt((finite * finite).sum())), absMax=absmax,
        skewness=float((d ** 3).mean() / m2 ** 1.5) if m2 > 0 else None,
        kurtosis=float((d ** 4).mean() / m2 ** 2 - 3) if m2 > 0 else None,
        nearZeroFraction=float((np.abs(finite) < 1e-3 * absmax).sum() / finite.size) if absmax > 0 else 0.0,
        percentiles={f'p{p:g}': float(np.percentile(finite, p)) for p in PCTS},
    )
    counts, edges = np.histogram(finite, bins=64)
    out['histogram'] = {'counts': [int(c) for c in counts]}  # edges are linspace(min, max, 65)
    return out


def h5_datasets(group, prefix=''):
    items = []
    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            items.append((name, obj))
    group.visititems(visit)
    return items


def keras_h5(path):
    tensors = {}
    with h5py.File(path, 'r') as f:
        for root, group in (('model_weights', 'model'), ('optimizer_weights', 'optimizer'), ('', 'model')):
            if root and root not in f:
                continue
            if not root and ('model_weights' in f or 'layers' in f):
                continue
            g = f[root] if root else f
            for name, ds in h5_datasets(g):
                if ds.dtype.kind not in 'fiub' or ds.shape is None:
                    continue
                tensors[(root + '/' if root else '') + name] = dict(shape=list(ds.shape), dtype=str(ds.dtype), group=group,
                                                                     head=[float(x) for x in np.asarray(ds[()]).ravel()[:8]],
                                                                     stats=stats(ds[()]))
    return tensors


def keras3_h5(f):
    tensors = {}
    for name, ds in h5_datasets(f):
        if ds.dtype.kind not in 'fiub':
            continue
        tensors[name] = dict(shape=list(ds.shape), dtype=str(ds.dtype),
                             group='optimizer' if name.startswith('optimizer/') else 'model',
                             head=[float(x) for x in np.asarray(ds[()]).ravel()[:8]], stats=stats(ds[()]))
    return tensors


def keras_zip(path):
    with zipfile.ZipFile(path) as z:
        data = z.read('model.weights.h5')
    with h5py.File(io.BytesIO(data), 'r') as f:
        return keras3_h5(f)


TFJS_BYTES = {'float32': 4, 'int32': 4, 'bool': 1, 'uint8': 1, 'uint16': 2, 'float16': 2}
TFJS_NP = {'float32': '<f4', 'int32': '<i4', 'bool': 'u1', 'uint8': 'u1', 'uint16': '<u2', 'float16': '<f2'}


def tfjs(path):
    with open(path) as fh:
        model = json.load(fh)
    base = os.path.dirname(path)
    tensors = {}
    for group in model['weightsManifest']:
        blob = b''.join(open(os.path.join(base, p), 'rb').read() for p in group['paths'])
        off = 0
        for w in group['weights']:
            shape = w['shape']
            n = int(np.prod(shape)) if shape else 1
            q = w.get('quantization')
            store = q['dtype'] if q else w['dtype']
            size = n * TFJS_BYTES[store]
            raw = np.frombuffer(blob, dtype=TFJS_NP[store], count=n, offset=off)
            off += size
            if q and store in ('uint8', 'uint16'):
                # tfjs-core io_utils: q * scale + min evaluated in JS numbers (float64), stored in a
                # Float32Array (int32 originals rounded first)
                vals = raw.astype(np.float64) * q['scale'] + q['min']
                vals = np.round(vals).astype(np.int32) if w['dtype'] == 'int32' else vals.astype(np.float32)
            elif q and store == 'float16':
                vals = raw.astype(np.float32)
            else:
                vals = raw
            tensors[w['name']] = dict(shape=shape, dtype=w['dtype'], storage=store,
                                      head=[float(x) for x in vals.ravel()[:8]], stats=stats(vals))
    return tensors


def main():
    if not os.path.isdir(FIXTURES):
        sys.exit(f'fixtures folder not found: {FIXTURES}')
    ref = {}
    for dirpath, _, files in os.walk(FIXTURES):
        for name in sorted(files):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, FIXTURES)
            if rel.startswith('keras-h5/'):
                ref[rel] = keras_h5(full)
            elif rel.startswith('keras3-weights-h5/') and name.endswith('.h5'):
                with h5py.File(full, 'r') as f:
                    ref[rel] = keras3_h5(f)
            elif rel.startswith('keras3-keras/'):
                ref[rel] = keras_zip(full)
            elif rel.startswith('tfjs-') and name == 'model.json':
                ref[rel] = tfjs(full)
            elif rel.startswith('tflite/') and name.endswith('.h5'):
                ref[rel] = keras_h5(full)
    ref = dict(sorted(ref.items()))
    with open(OUT, 'w') as fh:
        json.dump(ref, fh, separators=(',', ':'), sort_keys=True, allow_nan=False)
        fh.write('\n')
    print(f'wrote {os.path.relpath(OUT, ROOT)}: {len(ref)} files, {sum(len(v) for v in ref.values())} tensors')


if __name__ == '__main__':
    main()
