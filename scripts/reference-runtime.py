#!/usr/bin/python3
"""Independent reference outputs for test/unit/runtime/modelBuilder.test.ts.

Reads the weights of three shared fixtures with h5py (for `.keras`: zipfile + h5py on the member
model.weights.h5) and runs their forward pass in NumPy float64, written out by hand:

* keras-h5/alphabet-soup-charity-keras2.15/AlphabetSoupCharity.h5: Dense 43->80 relu -> 30 relu -> 1 sigmoid
* keras3-weights-h5/diabetes-simple-model: Dense 8->12 relu -> 8 relu -> 1 sigmoid (activations from model.json)
* keras3-keras/keras-masking-lstm-3.8/model.keras: Masking(0) + LSTM(1) (gates i, f, c, o; tanh / sigmoid)

Inputs: x[k] = sin(0.37 * k + 0.1) over the flattened batch (k = 0, 1, ...), batch 4 for the MLPs
and [2, 3, 2] for the LSTM; the test builds the same inputs.

Run with Debian's python3 (python3-h5py, python3-numpy):  /usr/bin/python3 scripts/reference-runtime.py
"""
import io
import json
import os
import zipfile

import h5py
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
FIX = os.path.join(ROOT, '..', 'shared', 'fixtures')
OUT = os.path.join(ROOT, 'test', 'unit', 'runtime', 'modelBuilder.reference.json')


def inputs(shape):
    n = int(np.prod(shape))
    return np.sin(0.37 * np.arange(n, dtype=np.float64) + 0.1).astype(np.float32).astype(np.float64).reshape(shape)


def act(name, z):
    if name == 'relu':
        return np.maximum(z, 0)
    if name == 'sigmoid':
        return 1 / (1 + np.exp(-z))
    if name == 'tanh':
        return np.tanh(z)
    assert name == 'linear', name
    return z


def mlp(x, layers):
    for k, b, a in layers:
        x = act(a, x @ k.astype(np.float64) + b.astype(np.float64))
    return x


def alphabet():
    with h5py.File(os.path.join(FIX, 'keras-h5/alphabet-soup-charity-keras2.15/AlphabetSoupCharity.h5'), 'r') as f:
        g = f['model_weights']
        layers = [(g[f'{n}/{n}/kernel:0'][()], g[f'{n}/{n}/bias:0'][()], a) for n, a in [('dense', 'relu'), ('dense_1', 'relu'), ('dense_2', 'sigmoid')]]
    x = inputs([4, 43])
    return mlp(x, layers)


def diabetes():
    d = os.path.join(FIX, 'keras3-weights-h5/diabetes-simple-model')
    cfg = json.load(open(os.path.join(d, 'model.json')))
    acts = [l['config']['activation'] for l in cfg['config']['layers'] if l['class_name'] == 'Dense']
    names = ['dense', 'dense_1', 'dense_2', 'dense_3'][: len(acts)]
    with h5py.File(os.path.join(d, 'model.weights.h5'), 'r') as f:
        layers = [(f[f'layers/{n}/vars/0'][()], f[f'layers/{n}/vars/1'][()], a) for n, a in zip(names, acts)]
    x = inputs([4, 8])
    return mlp(x, layers)


def lstm():
    path = os.path.join(FIX, 'keras3-keras/keras-masking-lstm-3.8/model.keras')
    with zipfile.ZipFile(path) as z:
        data = z.read('model.weights.h5')
    with h5py.File(io.BytesIO(data), 'r') as f:
        k = f['layers/lstm/cell/vars/0'][()].astype(np.float64)
        r = f['layers/lstm/cell/vars/1'][()].astype(np.float64)
        b = f['layers/lstm/cell/vars/2'][()].astype(np.float64)
    x = inputs([2, 3, 2])
    assert np.all(x != 0)  # Masking(0) masks nothing
    units = r.shape[0]
    sig = lambda z: 1 / (1 + np.exp(-z))
    h = np.zeros((2, units))
    c = np.zeros((2, units))
    for t in range(3):
        z = x[:, t, :] @ k + h @ r + b
        i, fg, cc, o = (z[:, j * units:(j + 1) * units] for j in range(4))
        c = sig(fg) * c + sig(i) * np.tanh(cc)
        h = sig(o) * np.tanh(c)
    return h


ref = {
    'keras-h5/alphabet-soup-charity-keras2.15/AlphabetSoupCharity.h5': {'inputShape': [4, 43], 'output': alphabet().tolist()},
    'keras3-weights-h5/diabetes-simple-model/model.weights.h5': {'inputShape': [4, 8], 'output': diabetes().tolist()},
    'keras3-keras/keras-masking-lstm-3.8/model.keras': {'inputShape': [2, 3, 2], 'output': lstm().tolist()},
}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, 'w') as fh:
    json.dump(ref, fh, indent=1)
    fh.write('\n')
print('wrote', os.path.relpath(OUT, ROOT))
