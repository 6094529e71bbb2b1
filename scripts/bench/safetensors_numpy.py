#!/usr/bin/python3
"""Peer for the 'many-tensors' bench section: Python + NumPy over a safetensors file. Reads the JSON
header, then for every numeric tensor its values (one np.frombuffer view of the memory-mapped
file) and computes what a user would write for a summary: mean and std (float64 accumulation),
min, max and a 64-bin histogram. Prints one JSON line with the tensor count, elapsed seconds and
per-tensor results for the tensors whose name contains FILTER (a cross-check; all when omitted).
Usage: safetensors_numpy.py FILE [FILTER]
"""
import json
import struct
import sys
import time

import numpy as np

DTYPES = {'F64': '<f8', 'F32': '<f4', 'F16': '<f2', 'I64': '<i8', 'I32': '<i4', 'I16': '<i2', 'I8': 'i1', 'U8': 'u1'}


def main():
    start = time.perf_counter()
    path = sys.argv[1]
    wanted = sys.argv[2] if len(sys.argv) > 2 else ''
    with open(path, 'rb') as f:
        (size,) = struct.unpack('<Q', f.read(8))
        header = json.loads(f.read(size))
    data = np.memmap(path, dtype=np.uint8, mode='r', offset=8 + size)
    results = {}
    count = 0
    for name, e in header.items():
        if name == '__metadata__' or e['dtype'] not in DTYPES:
            continue
        begin, end = e['data_offsets']
        a = np.frombuffer(data[begin:end], dtype=DTYPES[e['dtype']])
        if a.size == 0:
            continue
        counts, _ = np.histogram(a, 64)
        r = {'mean': float(a.mean(dtype=np.float64)), 'std': float(a.std(dtype=np.float64)), 'min': float(a.min()), 'max': float(a.max()), 'histogram': int(counts.sum())}
        count += 1
        if wanted in name:
            results[name] = r
    print(json.dumps({'tensors': count, 'seconds': time.perf_counter() - start, 'results': results}))


if __name__ == '__main__':
    main()
