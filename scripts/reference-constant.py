#!/usr/bin/python3
"""Reference values for the constant-kernel rule, read with h5py straight from the fixture
keras3-keras/keras-nested-container-3.15/pre_pr22362_nested_container.keras (its model.weights.h5
member): for every variable, its shape, value count, min and max as float32 decoded by NumPy.
Writes test/unit/analysis/diagnostics/constant.reference.json.

  /usr/bin/python3 scripts/reference-constant.py
"""
import io
import json
import os
import zipfile

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(ROOT), 'shared', 'fixtures')
REL = 'keras3-keras/keras-nested-container-3.15/pre_pr22362_nested_container.keras'
OUT = os.path.join(ROOT, 'test', 'unit', 'analysis', 'diagnostics', 'constant.reference.json')

weights = zipfile.ZipFile(os.path.join(FIXTURES, REL)).read('model.weights.h5')
tensors = {}
with h5py.File(io.BytesIO(weights), 'r') as h:
    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            a = np.asarray(obj[()], dtype=np.float32)
            tensors[name] = {'shape': list(a.shape), 'count': int(a.size), 'min': float(a.min()), 'max': float(a.max())}
    h.visititems(visit)
with open(OUT, 'w') as fh:
    json.dump({'generator': 'scripts/reference-constant.py', 'fixture': REL, 'tensors': tensors}, fh, indent=1)
    fh.write('\n')
print(json.dumps(tensors, indent=1))
