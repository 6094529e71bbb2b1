#!/usr/bin/python3
"""Independent reference values for test/unit/formats/tfjs.test.ts.

1. The four TF.js fixtures under ../shared/fixtures: manifest entries (name, shape, dtype, stored
   dtype), layer names/classes from the topology, and per-tensor values decoded with NumPy
   (uint8 weights dequantized as tfjs-core io_utils decodeWeight does: float32(q * scale + min)).
2. Quantized cases written the way tensorflowjs_converter's quantization.py writes them
   (uint8/uint16 affine with a nudged min, float16 casts incl. subnormals, int32 originals), in
   both the old {min, scale, dtype} and the new {..., original_dtype} manifest forms, with the
   expected dequantized values.

Run with Debian's python3 (python3-numpy):  /usr/bin/python3 scripts/reference-tfjs.py
"""
import base64
import json
import math
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(ROOT), 'shared', 'fixtures')
OUT = os.path.join(ROOT, 'test', 'unit', 'formats', 'tfjs.reference.json')

FIXTURE_FILES = [
    'tfjs-layers/tfjs-e2e-layers-model/model.json',
    'tfjs-graph/tfjs-e2e-graph-model/model.json',
    'tfjs-graph/tfjs-move-lstm/model.json',
    'tfjs-quantized/nsfwjs-mobilenet-v2-uint8/model.json',
]

NP_DTYPES = {'float32': np.float32, 'int32': np.int32, 'bool': np.uint8, 'uint8': np.uint8,
             'uint16': np.uint16, 'float16': np.float16}


def num(x):
    """JSON-safe number (NaN/Inf as strings)."""
    x = float(x)
    if math.isnan(x):
        return 'NaN'
    if math.isinf(x):
        return 'Infinity' if x > 0 else '-Infinity'
    return x


def keras_layers(topology):
    """Flattened (name, class) list of a Keras config, nested models after their container."""
    cfg = topology
    if 'model_config' in cfg and 'class_name' not in cfg:
        cfg = cfg['model_config']
    out = []

    def walk(layers):
        for entry in layers:
            c = entry.get('config', {})
            c = c if isinstance(c, dict) else {'layers': c}
            out.append([c.get('name', entry.get('name')), entry.get('class_name')])
            if isinstance(c.get('layers'), list):
                walk(c['layers'])

    inner = cfg.get('config', {})
    walk(inner if isinstance(inner, list) else inner.get('layers', []))
    return {'modelClass': cfg.get('class_name'), 'layers': out}


def fixture_reference(rel):
    path = os.path.join(FIXTURES, rel)
    with open(path, 'rb') as f:
        model = json.load(f)
    folder = os.path.dirname(path)
    tensors = []
    for group in model['weightsManifest']:
        stream = b''.join(open(os.path.join(folder, p), 'rb').read() for p in group['paths'])
        offset = 0
        for w in group['weights']:
            count = int(np.prod(w['shape'], dtype=np.int64)) if w['shape'] else 1
            q = w.get('quantization')
            stored = q['dtype'] if q else w['dtype']
            nbytes = count * np.dtype(NP_DTYPES[stored]).itemsize
            raw = np.frombuffer(stream, dtype=np.dtype(NP_DTYPES[stored]).newbyteorder('<'), count=count, offset=offset)
            offset += nbytes
            if q and stored in ('uint8', 'uint16'):
                values = (raw.astype(np.float64) * q['scale'] + q['min']).astype(np.float32)
            else:
                values = raw
            v64 = values.astype(np.float64)
            tensors.append({
                'name': w['name'], 'shape': w['shape'], 'dtype': q.get('original_dtype', w['dtype']) if q else w['dtype'],
                'storageDtype': stored, 'byteLength': int(nbytes), 'count': int(count),
                'sum': float(v64.sum()), 'min': num(v64.min()) if count else None, 'max': num(v64.max()) if count else None,
                'head': [num(x) for x in v64[:6]], 'last': num(v64[-1]) if count else None,
            })
    ref = {'format': model.get('format'), 'tensors': tensors}
    topo = model.get('modelTopology')
    if topo and ('class_name' in topo or 'model_config' in topo):
        ref['architecture'] = keras_layers(topo)
    return ref


# --- Quantized cases (tensorflowjs/quantization.py formulas) --------------------------------------

def affine_quantize(data, qdtype):
    """quantize_weights for uint8/uint16: scale = (max - min) / qmax, min nudged so 0 is exact."""
    qmax = np.iinfo(qdtype).max
    min_val = float(np.min(data).astype(np.float64))
    max_val = float(np.max(data).astype(np.float64))
    if min_val == max_val:
        return np.zeros(data.shape, dtype=qdtype), min_val, 1.0
    scale = (max_val - min_val) / qmax
    nudged_min = float(np.round(min_val / scale) * scale)
    nudged_max = nudged_min + scale * qmax
    q = np.round((np.clip(data.astype(np.float64), nudged_min, nudged_max) - nudged_min) / scale).astype(qdtype)
    return q, nudged_min, scale


def dequantize_affine(q, min_val, scale, original):
    """tfjs-core decodeWeight: float32(q * scale + min); int32 originals Math.round (half up)."""
    v = q.astype(np.float64) * scale + min_val
    if original == 'int32':
        return np.floor(v + 0.5).astype(np.int64).astype(np.float64)
    return v.astype(np.float32).astype(np.float64)


def quantized_cases():
    rng = np.random.default_rng(20261128)
    cases = []

    def add(name, shape, original, qdtype, form, data):
        if qdtype == 'float16':
            stored = data.astype(np.float16)
            expected = stored.astype(np.float64)
            quant = {'dtype': 'float16'}
        else:
            qd = np.uint8 if qdtype == 'uint8' else np.uint16
            stored, min_val, scale = affine_quantize(data, qd)
            expected = dequantize_affine(stored, min_val, scale, original)
            quant = {'dtype': qdtype, 'min': min_val, 'scale': scale}
        if form == 'new':
            quant['original_dtype'] = original
        raw = stored.astype(stored.dtype.newbyteorder('<')).tobytes()
        cases.append({
            'entry': {'name': name, 'shape': list(shape), 'dtype': original, 'quantization': quant},
            'bytesBase64': base64.b64encode(raw).decode('ascii'),
            'expected': [num(x) for x in expected.ravel()],
        })

    add('dense/kernel', (6, 5), 'float32', 'uint8', 'old', rng.normal(0, 0.5, (6, 5)).astype(np.float32))
    add('dense/bias', (5,), 'float32', 'uint8', 'new', rng.uniform(-0.1, 0.3, 5).astype(np.float32))
    add('conv/kernel', (3, 3, 2, 4), 'float32', 'uint16', 'new', rng.normal(0, 2.0, (3, 3, 2, 4)).astype(np.float32))
    add('conv/bias', (4,), 'float32', 'uint16', 'old', np.array([0.25, -1.5, 3.0, 0.0], dtype=np.float32))
    add('const/ones', (3,), 'float32', 'uint8', 'new', np.ones(3, dtype=np.float32))
    add('ids/table', (2, 7), 'int32', 'uint8', 'new', rng.integers(-40, 200, (2, 7)).astype(np.float32))
    add('ids/wide', (9,), 'int32', 'uint16', 'old', np.array([-70000, -3, 0, 1, 2, 17, 999, 65535, 123456], dtype=np.float32))
    # float16: normal values, the smallest subnormal (2^-24), other subnormals, overflow to Inf, -0, NaN.
    f16 = np.array([0.1, -2.5, 65504.0, 1e5, -1e5, 2.0 ** -24, 3 * 2.0 ** -24, -6.0e-5, 6.1e-5, -0.0,
                    np.nan, 1.0 / 3.0], dtype=np.float32)
    with np.errstate(over='ignore'):
        add('half/kernel', (12,), 'float32', 'float16', 'new', f16)
        add('half/bias', (2, 2), 'float32', 'float16', 'old', rng.normal(0, 1e-3, (2, 2)).astype(np.float32))
    return cases


def main():
    ref = {
        'fixtures': {rel: fixture_reference(rel) for rel in FIXTURE_FILES if os.path.exists(os.path.join(FIXTURES, rel))},
        'quantizedCases': quantized_cases(),
    }
    with open(OUT, 'w') as f:
        json.dump(ref, f, indent=1, sort_keys=True)
        f.write('\n')
    print(f'wrote {os.path.relpath(OUT, ROOT)}')


if __name__ == '__main__':
    main()
