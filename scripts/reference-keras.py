#!/usr/bin/python3
"""Independent reference values for test/unit/formats/keras.test.ts.

Reads every Keras HDF5 / Keras 3 fixture under ../shared/fixtures with h5py + NumPy (for `.keras`
archives: Python's zipfile extracts model.weights.h5 into a temporary folder) and lists the
tensors in Keras order, independently of the TypeScript readers:

* legacy full model / weights-only (notes/weight-formats.md 2.1, 2.2): groups in the order of the
  `layer_names` attribute, datasets in the order of each group's `weight_names` attribute, named
  '<group>/<weight_name>'; optimizer datasets from `optimizer_weights`'s `weight_names`, named
  'optimizer_weights/<weight_name>';
* Keras 3 (2.3): every dataset under a `vars` group, named by its HDF5 path, variables in numeric
  order; the `name` attribute of each `vars` group is recorded.

Per tensor: shape, NumPy dtype name, the first 8 values, and over all values (as float64): sum,
sum of squares, min, max, element count.

`generated`: a small Keras 3 style `.weights.h5` written here with h5py (stored as base64) holding
the element types the fixtures lack: float16 (with a subnormal and infinities), big-endian
float32, int8/uint8/int16/int64, numpy bool, and bfloat16 the way Keras 3 writes it (raw 2-byte
opaque values with attribute dtype='bfloat16'), plus twelve variables to check numeric order
('vars/10' after 'vars/9'). Expected values come from NumPy (bfloat16: the bits shifted into the
upper half of a float32).

Run with Debian's python3 (python3-h5py, python3-numpy):  /usr/bin/python3 scripts/reference-keras.py
"""
import base64
import io
import json
import math
import os
import tempfile
import zipfile

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(ROOT), 'shared', 'fixtures')
OUT = os.path.join(ROOT, 'test', 'unit', 'formats', 'keras.reference.json')

FIXTURE_FILES = [
    'keras-h5/alphabet-soup-charity-keras2.15/AlphabetSoupCharity.h5',
    'keras-h5/alphabet-soup-charity-keras2.15/model_weights.h5',
    'keras-h5/teachable-machine-nested-keras2.4/keras_model.h5',
    'tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet.h5',
    'keras3-weights-h5/diabetes-simple-model/model.weights.h5',
    'keras3-keras/keras-nested-container-3.15/pre_pr22362_nested_container.keras',
    'keras3-keras/keras-masking-lstm-3.8/model.keras',
    'keras3-keras/keras-custom-layer-3.13/fixed_model.keras',
]


def text(v):
    return v.decode('utf-8') if isinstance(v, bytes) else str(v)


def str_list(attrs, name):
    """A list-of-strings attribute, including chunked name0..N and empty float arrays."""
    if name in attrs:
        value = attrs[name]
        if isinstance(value, (str, bytes)):
            return [text(value)]
        return [text(v) for v in np.asarray(value).reshape(-1)] if np.asarray(value).dtype.kind in 'SUO' else []
    out = []
    i = 0
    while f'{name}{i}' in attrs:
        out.extend(text(v) for v in attrs[f'{name}{i}'])
        i += 1
    return out if i > 0 else None


def describe(name, ds, extra=None):
    values = ds[()]
    arr = np.asarray(values)
    flat = arr.reshape(-1).astype(np.float64)
    finite = flat[np.isfinite(flat)]
    entry = {
        'name': name,
        'shape': list(arr.shape),
        'dtype': 'bool' if arr.dtype == np.bool_ else str(arr.dtype),
        'count': int(flat.size),
        'first': [float(x) for x in flat[:8]],
        'sum': math.fsum(flat.tolist()),
        'sumSquares': math.fsum((flat * flat).tolist()),
        'min': float(finite.min()) if finite.size else None,
        'max': float(finite.max()) if finite.size else None,
    }
    if extra:
        entry.update(extra)
    return entry


def legacy(f, kind):
    root = f['model_weights'] if kind == 'full' else f
    tensors = []
    for layer in str_list(root.attrs, 'layer_names'):
        g = root[layer]
        for wn in str_list(g.attrs, 'weight_names') or []:
            tensors.append(describe(f'{layer}/{wn}', g[wn], {'group': 'model'}))
    if kind == 'full' and 'optimizer_weights' in f:
        og = f['optimizer_weights']
        for wn in str_list(og.attrs, 'weight_names') or []:
            tensors.append(describe(f'optimizer_weights/{wn}', og[wn], {'group': 'optimizer'}))
    return tensors


def keras3(f):
    found = []

    def visit(path, obj):
        if isinstance(obj, h5py.Group) and path.split('/')[-1] == 'vars':
            names = sorted((k for k in obj.keys() if isinstance(obj[k], h5py.Dataset)), key=int)
            for k in names:
                owner = path[: -len('vars')].rstrip('/')
                found.append((owner, int(k), describe(f'{path}/{k}', obj[k], {
                    'group': 'optimizer' if owner == 'optimizer' else 'model',
                    'varsName': text(obj.attrs['name']) if 'name' in obj.attrs else None,
                })))

    f.visititems(visit)
    return [t for _, _, t in found]


def read(path):
    if path.endswith('.keras'):
        with zipfile.ZipFile(path) as z, tempfile.TemporaryDirectory() as d:
            z.extract('model.weights.h5', d)
            meta = json.loads(z.read('metadata.json'))
            with h5py.File(os.path.join(d, 'model.weights.h5'), 'r') as f:
                return {'format': 'keras-v3', 'kerasVersion': meta.get('keras_version'), 'tensors': keras3(f)}
    with h5py.File(path, 'r') as f:
        if 'model_config' in f.attrs:
            return {'format': 'keras-h5', 'kerasVersion': text(f.attrs.get('keras_version', '')), 'tensors': legacy(f, 'full')}
        if 'layer_names' in f.attrs:
            return {'format': 'keras-weights-h5', 'kerasVersion': text(f.attrs.get('keras_version', '')), 'tensors': legacy(f, 'weights')}
        return {'format': 'keras-v3-weights', 'tensors': keras3(f)}


def json_number(x):
    x = float(x)
    if math.isnan(x):
        return 'NaN'
    if math.isinf(x):
        return 'Infinity' if x > 0 else '-Infinity'
    return x


def generated():
    """A small Keras 3 style weights file with uncommon element types, and its expected values."""
    cases = []
    buf = io.BytesIO()
    with h5py.File(buf, 'w') as f:
        layers = f.create_group('layers')

        def add(key, arrays, name=None, attrs=None):
            vars_group = layers.create_group(key).create_group('vars')
            if name:
                vars_group.attrs['name'] = name
            for i, arr in enumerate(arrays):
                ds = vars_group.create_dataset(str(i), data=arr)
                for k, v in (attrs or {}).get(i, {}).items():
                    ds.attrs[k] = v

        half = np.array([[1.0, -2.5, 65504.0], [2.0 ** -24, np.inf, -np.inf]], dtype=np.float16)
        big_endian = np.array([1.5, -0.25, 3.0e38], dtype='>f4')
        add('dense', [half, big_endian], name='half_dense')
        add('embedding', [np.array([[-128, 127], [0, 5]], dtype=np.int8)], name='ints_i8')
        add('custom', [np.array([0, 255, 7], dtype=np.uint8), np.array([-32768, 32767], dtype=np.int16),
                       np.array([2 ** 53, -3], dtype=np.int64), np.array([True, False, True], dtype=np.bool_)], name='mixed')
        bits = np.array([0x3F80, 0xC000, 0x4049, 0x7F80, 0x0001], dtype='<u2')
        add('bf16', [bits.view('V2')], name='bf16_dense', attrs={0: {'dtype': 'bfloat16'}})
        add('many', [np.array([float(i)], dtype=np.float32) for i in range(12)], name='many_vars')
        expected = {
            'layers/dense/vars/0': ('float16', half.astype(np.float64)),
            'layers/dense/vars/1': ('float32', big_endian.astype(np.float64)),
            'layers/embedding/vars/0': ('int8', np.array([[-128, 127], [0, 5]], dtype=np.float64)),
            'layers/custom/vars/0': ('uint8', np.array([0, 255, 7], dtype=np.float64)),
            'layers/custom/vars/1': ('int16', np.array([-32768, 32767], dtype=np.float64)),
            'layers/custom/vars/2': ('int64', np.array([2 ** 53, -3], dtype=np.float64)),
            'layers/custom/vars/3': ('bool', np.array([1, 0, 1], dtype=np.float64)),
            'layers/bf16/vars/0': ('bfloat16', (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)),
        }
        for i in range(12):
            expected[f'layers/many/vars/{i}'] = ('float32', np.array([float(i)]))
    # Order: h5py's own traversal (name order of the container keys), numeric order of variables.
    order = []
    with h5py.File(io.BytesIO(buf.getvalue()), 'r') as f:
        for key in f['layers']:
            for v in sorted(f['layers'][key]['vars'], key=int):
                order.append(f'layers/{key}/vars/{v}')
    for name in order:
        dtype, values = expected[name]
        cases.append({'name': name, 'dtype': dtype, 'shape': list(values.shape), 'values': [json_number(x) for x in values.reshape(-1)]})
    return {'fileName': 'generated.weights.h5', 'bytesBase64': base64.b64encode(buf.getvalue()).decode('ascii'), 'tensors': cases}


def main():
    out = {'generatedBy': 'scripts/reference-keras.py (h5py ' + h5py.__version__ + ', numpy ' + np.__version__ + ')', 'fixtures': {}}
    for rel in FIXTURE_FILES:
        out['fixtures'][rel] = read(os.path.join(FIXTURES, rel))
    out['generated'] = generated()
    with open(OUT, 'w') as fh:
        json.dump(out, fh, indent=1)
        fh.write('\n')
    print(f'wrote {OUT}: {sum(len(v["tensors"]) for v in out["fixtures"].values())} tensors')


if __name__ == '__main__':
    main()
