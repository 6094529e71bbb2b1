#!/usr/bin/python3
"""Peer for `npm run bench`: h5py + NumPy computing, per dataset of a Keras HDF5 file, what a user
would write for the same summary: mean and std (float64 accumulation, like Weightscope), min, max
and a 64-bin histogram. Prints one JSON line with the dataset count and elapsed seconds.
Usage: h5py_stats.py FILE
"""
import json
import sys
import time

import h5py
import numpy as np


def main():
    start = time.perf_counter()
    results = {}
    with h5py.File(sys.argv[1], 'r') as f:
        datasets = []
        f.visititems(lambda name, obj: datasets.append(name) if isinstance(obj, h5py.Dataset) else None)
        for name in datasets:
            a = f[name][()]
            if a.dtype.kind not in 'fiu' or a.size == 0:
                continue
            counts, _ = np.histogram(a, 64)
            results[name] = {
                'mean': float(a.mean(dtype=np.float64)),
                'std': float(a.std(dtype=np.float64)),
                'min': float(a.min()),
                'max': float(a.max()),
                'histogram': int(counts.sum()),
            }
    print(json.dumps({'datasets': len(results), 'seconds': time.perf_counter() - start, 'results': results}))


if __name__ == '__main__':
    main()
