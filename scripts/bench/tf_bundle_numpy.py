#!/usr/bin/python3
"""Peer for the 'tf-bundle' bench section: Python + NumPy over a TensorFlow tensor bundle.

Parses the `.index` with the small independent parser of scripts/reference-tf.py (SSTable, Snappy,
BundleEntryProto), then for every numeric tensor reads its bytes from the shard at the entry's
offset with NumPy and computes what a user would write for a summary: mean and std (float64
accumulation), min, max and a 64-bin histogram. Prints one JSON line with the tensor count,
elapsed seconds and the per-tensor means (for a correctness cross-check).
Usage: tf_bundle_numpy.py PREFIX.index
"""
import importlib.util
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location('reference_tf', os.path.join(HERE, '..', 'reference-tf.py'))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)


def main():
    index = sys.argv[1]
    start = time.perf_counter()
    prefix = index[:-len('.index')]
    _, entries = ref.parse_index(index)
    header = {f: v for f, _, v in ref.fields(entries[0][1]) if f in (1, 2)}
    num_shards = header.get(1, 0)
    means = {}
    for key, value in entries[1:]:
        e = {1: 0, 2: b'', 3: 0, 4: 0, 5: 0}
        for f, _, v in ref.fields(value):
            e[f] = v
        _, npdt = ref.DTYPES.get(e[1], (None, None))
        if npdt is None:
            continue
        shard = '%s.data-%05d-of-%05d' % (prefix, e[3], num_shards)
        a = np.fromfile(shard, dtype=np.dtype(npdt), count=e[5] // np.dtype(npdt).itemsize, offset=e[4])
        if a.size == 0:
            continue
        np.histogram(a, 64)
        means[key.decode()] = float(a.mean(dtype=np.float64))
        a.std(dtype=np.float64)
        a.min()
        a.max()
    print(json.dumps({'tensors': len(means), 'seconds': time.perf_counter() - start, 'means': means}))


if __name__ == '__main__':
    main()
