#!/usr/bin/python3
"""Independent reference outputs for test/unit/runtime/modelBuilder.test.ts.

Reads the weights of five shared fixtures with h5py (for `.keras`: zipfile + h5py on the member
model.weights.h5; for Keras SavedModels: scripts/reference-tf.py's own tensor-bundle reader, by the
variables' object-graph full names, and the architecture from the root object's Keras metadata in
saved_model.pb) and runs their forward pass in NumPy float64, written out by hand:

* keras-h5/alphabet-soup-charity-keras2.15/AlphabetSoupCharity.h5: Dense 43->80 relu -> 30 relu -> 1 sigmoid
* keras3-weights-h5/diabetes-simple-model: Dense 8->12 relu -> 8 relu -> 1 sigmoid (activations from model.json)
* keras3-keras/keras-masking-lstm-3.8/model.keras: Masking(0) + LSTM(1) (gates i, f, c, o; tanh / sigmoid)
* tf-savedmodel/keras-lso-savedmodel-tf2.2: Sequential([Dense(2)]) (TF 2.2 SavedModel)
* tflite/mlperf-tiny-kws-dscnn-tf2.3/kws_ref_model: DS-CNN (TF 2.3 SavedModel): Conv2D / DepthwiseConv2D
  with TF 'SAME' padding and their strides, BatchNormalization in inference mode with its epsilon,
  ReLU, Dropout as identity, AveragePooling2D, Flatten, Dense + softmax

Inputs: x[k] = sin(0.37 * k + 0.1) over the flattened batch (k = 0, 1, ...), batch 4 for the MLPs,
[2, 3, 2] for the LSTM and [2, 49, 10, 1] for the DS-CNN; the test builds the same inputs. SavedModel
entries also list each model variable's shape and sum (optimizer slots and metrics left out).

Run with Debian's python3 (python3-h5py, python3-numpy):  /usr/bin/python3 scripts/reference-runtime.py
"""
import importlib.util
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


def load_reference_tf():
    """scripts/reference-tf.py (an independent tensor-bundle and protobuf reader) as a module."""
    spec = importlib.util.spec_from_file_location('reference_tf', os.path.join(ROOT, 'scripts', 'reference-tf.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def untuple(v):
    """SavedModel metadata writes tuples as {"class_name": "__tuple__", "items": [...]}."""
    if isinstance(v, dict):
        if v.get('class_name') in ('__tuple__', 'TensorShape') and 'items' in v:
            return [untuple(x) for x in v['items']]
        return {k: untuple(x) for k, x in v.items()}
    if isinstance(v, list):
        return [untuple(x) for x in v]
    return v


def same_padding(size, k, s):
    """TF 'SAME' padding of one spatial dimension: (before, after, output size)."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2, out


def patches(x, kh, kw, sh, sw, padding):
    """Yields (i, j, window) with window[n, oh, ow, c] = padded x[n, oh*sh + i, ow*sw + j, c]."""
    _, h, w, _ = x.shape
    if padding == 'same':
        t, b, oh = same_padding(h, kh, sh)
        l, r, ow = same_padding(w, kw, sw)
        x = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))
    else:
        assert padding == 'valid', padding
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    for i in range(kh):
        for j in range(kw):
            yield i, j, x[:, i:i + (oh - 1) * sh + 1:sh, j:j + (ow - 1) * sw + 1:sw, :]


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def apply_activation(name, z):
    return softmax(z) if name == 'softmax' else act(name, z)


def keras_layer(cls, c, x, w):
    """One tf.keras 2.x layer in inference mode (Dropout is the identity), channels_last."""
    if cls in ('InputLayer', 'Dropout'):
        return x
    if cls == 'Dense':
        return apply_activation(c['activation'], x @ w['kernel'] + (w['bias'] if c['use_bias'] else 0))
    if cls in ('Conv2D', 'DepthwiseConv2D'):
        assert c['data_format'] == 'channels_last' and c['dilation_rate'] == [1, 1] and c.get('groups', 1) == 1
        kh, kw = c['kernel_size']
        sh, sw = c['strides']
        if cls == 'Conv2D':
            k = w['kernel']  # [kh, kw, in, out]
            y = sum(win @ k[i, j] for i, j, win in patches(x, kh, kw, sh, sw, c['padding']))
        else:
            k = w['depthwise_kernel']  # [kh, kw, in, multiplier]
            m = k.shape[3]
            y = sum((win[..., :, None] * k[i, j]).reshape(win.shape[:3] + (-1,)) for i, j, win in patches(x, kh, kw, sh, sw, c['padding']))
            assert y.shape[-1] == x.shape[-1] * m
        if c['use_bias']:
            y = y + w['bias']
        return apply_activation(c['activation'], y)
    if cls == 'BatchNormalization':
        assert c['axis'] in ([3], 3, -1, [-1])
        gamma = w['gamma'] if c['scale'] else 1.0
        beta = w['beta'] if c['center'] else 0.0
        return (x - w['moving_mean']) / np.sqrt(w['moving_variance'] + c['epsilon']) * gamma + beta
    if cls == 'Activation':
        return apply_activation(c['activation'], x)
    if cls == 'ReLU':
        return np.maximum(x, 0)
    if cls == 'Softmax':
        return softmax(x)
    if cls == 'AveragePooling2D':
        ph, pw = c['pool_size']
        sh, sw = c['strides']
        assert c['padding'] == 'valid'
        wins = [win for _, _, win in patches(x, ph, pw, sh, sw, 'valid')]
        return sum(wins) / len(wins)
    if cls == 'Flatten':
        return x.reshape(x.shape[0], -1)
    raise ValueError('layer class %s' % cls)


def savedmodel(folder, shape):
    """Forward pass of a Keras SavedModel: architecture from the root object's metadata, weights
    from variables/variables.* by their object-graph full names ('sequential/dense/kernel')."""
    rtf = load_reference_tf()
    variables = rtf.read_model_variables(folder + '/variables/variables.index')
    meta = rtf.keras_root_metadata(folder + '/saved_model.pb')
    model = untuple(meta['model_config'])
    layers = model['config']['layers']

    def weights(name):
        out = {}
        for full, value in variables.items():
            layer, _, weight = full.rpartition('/')
            if layer == name or layer.endswith('/' + name):
                out[weight] = value
        return out

    x = inputs(shape)
    if model['class_name'] == 'Sequential':
        for layer in layers:
            x = keras_layer(layer['class_name'], layer['config'], x, weights(layer['config']['name']))
        return x, variables
    # Functional: every layer here has one inbound tensor, listed after its input.
    values = {}
    for layer in layers:
        name = layer['name']
        if layer['class_name'] == 'InputLayer':
            values[name] = x
            continue
        (src,) = layer['inbound_nodes'][0]
        values[name] = keras_layer(layer['class_name'], layer['config'], values[src[0]], weights(name))
    return values[model['config']['output_layers'][0][0]], variables


def savedmodel_reference(folder, shape):
    """Reference entry of a SavedModel: inputs, NumPy outputs, and each model variable's shape and sum."""
    out, variables = savedmodel(folder, shape)
    return {'inputShape': shape, 'output': out.tolist(),
            'variables': {k: {'shape': list(v.shape), 'sum': float(v.sum())} for k, v in sorted(variables.items())}}


ref = {
    'keras-h5/alphabet-soup-charity-keras2.15/AlphabetSoupCharity.h5': {'inputShape': [4, 43], 'output': alphabet().tolist()},
    'keras3-weights-h5/diabetes-simple-model/model.weights.h5': {'inputShape': [4, 8], 'output': diabetes().tolist()},
    'keras3-keras/keras-masking-lstm-3.8/model.keras': {'inputShape': [2, 3, 2], 'output': lstm().tolist()},
    'tf-savedmodel/keras-lso-savedmodel-tf2.2': savedmodel_reference('tf-savedmodel/keras-lso-savedmodel-tf2.2', [4, 2]),
    'tflite/mlperf-tiny-kws-dscnn-tf2.3/kws_ref_model': savedmodel_reference('tflite/mlperf-tiny-kws-dscnn-tf2.3/kws_ref_model', [2, 49, 10, 1]),
}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, 'w') as fh:
    json.dump(ref, fh, indent=1)
    fh.write('\n')
print('wrote', os.path.relpath(OUT, ROOT))
