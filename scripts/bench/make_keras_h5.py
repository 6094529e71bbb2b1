#!/usr/bin/python3
"""Writes the benchmark's Keras-layout HDF5 file (legacy full-model layout, h5py defaults:
contiguous, uncompressed): `layers` Dense layers without bias, each kernel a `rows` x `cols` float32
dataset at model_weights/dense_i/dense_i/kernel:0 with normal random values, plus the Keras
attributes (model_config, layer_names, weight_names). Usage: make_keras_h5.py OUT [layers rows cols]
"""
import json
import os
import sys

import h5py
import numpy as np


def main():
    out = sys.argv[1]
    layers = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 4096
    cols = int(sys.argv[4]) if len(sys.argv) > 4 else 4096
    names = [f'dense_{i}' for i in range(layers)]
    config = {
        'class_name': 'Sequential',
        'config': {
            'name': 'bench',
            'layers': [{'class_name': 'InputLayer', 'config': {'name': 'input', 'batch_input_shape': [None, rows], 'dtype': 'float32'}}]
            + [
                {'class_name': 'Dense', 'config': {'name': n, 'trainable': True, 'units': cols, 'activation': 'linear', 'use_bias': False, 'dtype': 'float32'}}
                for n in names
            ],
        },
    }
    rng = np.random.default_rng(12345)
    tmp = out + '.tmp'
    with h5py.File(tmp, 'w') as f:
        f.attrs['keras_version'] = '2.15.0'
        f.attrs['backend'] = 'tensorflow'
        f.attrs['model_config'] = json.dumps(config)
        mw = f.create_group('model_weights')
        mw.attrs['layer_names'] = np.array([n.encode() for n in names])
        mw.attrs['backend'] = 'tensorflow'
        mw.attrs['keras_version'] = '2.15.0'
        for n in names:
            g = mw.create_group(n)
            g.attrs['weight_names'] = np.array([f'{n}/kernel:0'.encode()])
            ds = g.create_dataset(f'{n}/kernel:0', shape=(rows, cols), dtype='float32')
            step = max(1, (16 << 20) // (4 * cols))
            for r in range(0, rows, step):
                block = rng.standard_normal((min(step, rows - r), cols), dtype=np.float32) * np.float32(0.02)
                ds[r:r + block.shape[0]] = block
    os.replace(tmp, out)


if __name__ == '__main__':
    main()
