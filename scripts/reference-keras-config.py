#!/usr/bin/python3
"""Independent reference values for test/unit/formats/kerasConfig.test.ts.

Reads real Keras model configs from ../shared/fixtures (TF.js topologies, a Keras 3 `to_json()`
file, and the `model_config` attribute of Keras HDF5 files via h5py), flattens nested models the
way the Keras config describes them, and writes per layer: name (made 'outer/inner' only when a
name repeats), class, parent, activation, units, filters, kernel size, trainable and dropout rate.

Run with Debian's python3 (python3-h5py):  /usr/bin/python3 scripts/reference-keras-config.py
"""
import json
import os
from collections import Counter

import h5py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(ROOT), 'shared', 'fixtures')
OUT = os.path.join(ROOT, 'test', 'unit', 'formats', 'kerasConfig.reference.json')

SOURCES = [
    {'path': 'tfjs-quantized/nsfwjs-mobilenet-v2-uint8/model.json', 'json': 'modelTopology'},
    {'path': 'tfjs-layers/tfjs-e2e-layers-model/model.json', 'json': 'modelTopology'},
    {'path': 'keras3-weights-h5/diabetes-simple-model/model.json', 'json': ''},
    {'path': 'keras-h5/teachable-machine-nested-keras2.4/keras_model.h5', 'h5attr': 'model_config'},
    {'path': 'keras-h5/alphabet-soup-charity-keras2.15/AlphabetSoupCharity.h5', 'h5attr': 'model_config'},
    {'path': 'tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet.h5', 'h5attr': 'model_config'},
]

DROPOUT_CLASSES = {'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'SpatialDropout3D', 'AlphaDropout', 'GaussianDropout'}


def load(src):
    path = os.path.join(FIXTURES, src['path'])
    if 'h5attr' in src:
        with h5py.File(path, 'r') as f:
            value = f.attrs[src['h5attr']]
            return json.loads(value.decode('utf-8') if isinstance(value, bytes) else value)
    with open(path) as f:
        data = json.load(f)
    return data[src['json']] if src['json'] else data


def activation(v):
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        if isinstance(v.get('config'), str):
            return v['config']
        return v.get('registered_name') or v.get('class_name')
    return None


def flatten(config):
    if 'model_config' in config and 'class_name' not in config:
        config = config['model_config']
    items = []  # (name, class, parent index, config)

    def walk(layers, parent):
        for entry in layers:
            c = entry.get('config', {})
            c = c if isinstance(c, dict) else {'layers': c}
            items.append((c.get('name', entry.get('name')), entry.get('class_name'), parent, c))
            if isinstance(c.get('layers'), list):
                walk(c['layers'], len(items) - 1)

    inner = config.get('config', {})
    walk(inner if isinstance(inner, list) else inner.get('layers', []), None)
    counts = Counter(name for name, _, _, _ in items)
    final = []
    for name, _, parent, _ in items:
        final.append(f'{final[parent]}/{name}' if counts[name] > 1 and parent is not None else name)
    layers = []
    for i, (name, cls, parent, c) in enumerate(items):
        ks = c.get('kernel_size')
        rate = c.get('rate') if cls in DROPOUT_CLASSES else c.get('dropout')
        layers.append({
            'name': final[i], 'className': cls, 'parent': final[parent] if parent is not None else None,
            'activation': activation(c.get('activation')), 'units': c.get('units'), 'filters': c.get('filters'),
            'kernelSize': [ks] if isinstance(ks, int) else ks, 'trainable': c.get('trainable'),
            'dropoutRate': rate if isinstance(rate, (int, float)) and not isinstance(rate, bool) else None,
        })
    inputs = []
    top = inner if isinstance(inner, list) else inner.get('layers', [])
    for entry in top:
        c = entry.get('config', {})
        shape = c.get('batch_input_shape', c.get('batch_shape')) if isinstance(c, dict) else None
        is_input = entry.get('class_name') == 'InputLayer'
        if shape is not None and (is_input or not inputs):
            inputs.append(shape)
        if not is_input and inputs:
            break
    name = inner.get('name') if isinstance(inner, dict) else None
    return {'modelClass': config.get('class_name'), 'modelName': name, 'inputShapes': inputs or None, 'layers': layers}


def main():
    out = []
    for src in SOURCES:
        if not os.path.exists(os.path.join(FIXTURES, src['path'])):
            continue
        out.append({'source': src, 'expected': flatten(load(src))})
    with open(OUT, 'w') as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write('\n')
    print(f'wrote {os.path.relpath(OUT, ROOT)}')


if __name__ == '__main__':
    main()
