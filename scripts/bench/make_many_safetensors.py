#!/usr/bin/python3
"""Generator for the 'many-tensors' bench section: a safetensors file of N tiny float32 tensors
(4x4 values each, standard normal, seed 0), named layer_<i // 4>/w<i % 4>.
Usage: make_many_safetensors.py FILE [N=60000]
"""
import json
import struct
import sys

import numpy as np

path, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 60000
data = np.random.default_rng(0).standard_normal((n, 16)).astype('<f4')
header = {f'layer_{i // 4}/w{i % 4}': {'dtype': 'F32', 'shape': [4, 4], 'data_offsets': [64 * i, 64 * (i + 1)]} for i in range(n)}
h = json.dumps(header, separators=(',', ':')).encode()
h += b' ' * (-len(h) % 8)
with open(path, 'wb') as f:
    f.write(struct.pack('<Q', len(h)))
    f.write(h)
    f.write(data.tobytes())
