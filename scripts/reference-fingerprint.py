#!/usr/bin/python3
"""Reference fingerprints of the committed TF.js examples, computed with hashlib and NumPy from the
documented canonical bytes (src/analysis/fingerprint.ts): per tensor SHA-256 of
"weightscope-fp-v1\\0tensor\\0<dtype>\\0<shape joined by ,>\\0" followed by the float32 values
little-endian; per model SHA-256 of "weightscope-fp-v1\\0model\\0<n>\\0" followed by the sorted
tensor fingerprints joined by newlines. Reads model.json + weights.bin directly (TF.js layout:
weights in manifest order, no padding) and writes test/unit/analysis/fingerprint.reference.json.
When the shared fixtures (../shared/fixtures) are present, also the model fingerprints of some of
their Keras .h5 files, read with h5py (the datasets under model_weights/ of a full-model file,
every dataset of a weights-only file), into test/unit/analysis/fingerprintFixtures.reference.json.

    /usr/bin/python3 scripts/reference-fingerprint.py
"""
import hashlib
import json
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'test', 'unit', 'analysis', 'fingerprint.reference.json')
MODELS = ['examples/initialization/good-init-glorot-uniform', 'examples/initialization/bad-init-uniform-0.01']
VERSION = b'weightscope-fp-v1'
FIXTURES = os.path.join(os.path.dirname(ROOT), 'shared', 'fixtures')
FIXTURES_OUT = os.path.join(ROOT, 'test', 'unit', 'analysis', 'fingerprintFixtures.reference.json')
H5_FILES = ['tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet.h5', 'keras-h5/alphabet-soup-charity-keras2.15/model_weights.h5']


def tensor_fingerprint(dtype, shape, values):
    h = hashlib.sha256()
    h.update(VERSION + b'\0tensor\0' + dtype.encode() + b'\0' + ','.join(str(d) for d in shape).encode() + b'\0')
    h.update(values.tobytes())
    return h.hexdigest()


def model_fingerprint(fps):
    fps = sorted(fps)
    m = hashlib.sha256()
    m.update(VERSION + b'\0model\0' + str(len(fps)).encode() + b'\0')
    m.update('\n'.join(fps).encode())
    return m.hexdigest()


def h5_model_fingerprint(relative):
    import h5py
    with h5py.File(os.path.join(FIXTURES, relative), 'r') as f:
        root = f['model_weights'] if 'model_weights' in f else f
        datasets = []
        root.visititems(lambda name, obj: datasets.append(obj) if isinstance(obj, h5py.Dataset) else None)
        fps = []
        for d in datasets:
            assert d.dtype == np.dtype('<f4'), (relative, d.name, d.dtype)
            fps.append(tensor_fingerprint('float32', d.shape, np.asarray(d[()], dtype='<f4')))
    return {'model': model_fingerprint(fps), 'modelTensorCount': len(fps)}


def model_fingerprints(folder):
    with open(os.path.join(ROOT, folder, 'model.json')) as f:
        model = json.load(f)
    tensors = {}
    for group in model['weightsManifest']:
        data = b''.join(open(os.path.join(ROOT, folder, p), 'rb').read() for p in group['paths'])
        offset = 0
        for w in group['weights']:
            assert w['dtype'] == 'float32' and 'quantization' not in w, w
            n = int(np.prod(w['shape'], dtype=np.int64))
            values = np.frombuffer(data, dtype='<f4', count=n, offset=offset)
            offset += 4 * n
            h = hashlib.sha256()
            h.update(VERSION + b'\0tensor\0float32\0' + ','.join(str(d) for d in w['shape']).encode() + b'\0')
            h.update(values.astype('<f4').tobytes())
            tensors[w['name']] = h.hexdigest()
    fps = sorted(tensors.values())
    m = hashlib.sha256()
    m.update(VERSION + b'\0model\0' + str(len(fps)).encode() + b'\0')
    m.update('\n'.join(fps).encode())
    return {'model': m.hexdigest(), 'modelTensorCount': len(fps), 'tensors': tensors}


def main():
    out = {folder + '/model.json': model_fingerprints(folder) for folder in MODELS}
    with open(OUT, 'w') as f:
        json.dump(out, f, indent=2, sort_keys=True)
        f.write('\n')
    print(f'wrote {OUT}')
    if os.path.isdir(FIXTURES):
        fixtures = {relative: h5_model_fingerprint(relative) for relative in H5_FILES}
        with open(FIXTURES_OUT, 'w') as f:
            json.dump(fixtures, f, indent=2, sort_keys=True)
            f.write('\n')
        print(f'wrote {FIXTURES_OUT}')


if __name__ == '__main__':
    main()
