#!/usr/bin/python3
"""The NumPy peer of the 'diff' bench section: the same per-tensor metrics as `weightscope diff`
(relative L2, cosine, max/mean |b-a|, changed and sign-flip fractions, std of both) for two TF.js
checkpoints whose shards hold whole float32 tensors, read with np.memmap, float64 accumulation.

    /usr/bin/python3 scripts/bench/diff_numpy.py a/model.json b/model.json
"""
import json
import os
import sys

import numpy as np


def tensors(model_json):
    d = os.path.dirname(model_json)
    with open(model_json) as f:
        m = json.load(f)
    for group in m['weightsManifest']:
        # Shards hold whole tensors here (the bench generator writes them that way).
        maps = [np.memmap(os.path.join(d, p), dtype='<f4', mode='r') for p in group['paths']]
        shard, offset = 0, 0
        for w in group['weights']:
            n = int(np.prod(w['shape']))
            if offset + n > maps[shard].size:
                shard, offset = shard + 1, 0
            yield w['name'], maps[shard][offset:offset + n]
            offset += n


def main():
    out = {}
    a2 = d2 = 0.0
    for (name, a), (_, b) in zip(tensors(sys.argv[1]), tensors(sys.argv[2])):
        a64 = a.astype(np.float64)
        b64 = b.astype(np.float64)
        d = b64 - a64
        na, nb, nd = np.sqrt(np.dot(a64, a64)), np.sqrt(np.dot(b64, b64)), np.sqrt(np.dot(d, d))
        a2 += na * na
        d2 += nd * nd
        out[name] = {
            'relL2': float(nd / na) if na > 0 else (0.0 if nd == 0 else None),
            'cosine': float(np.dot(a64, b64) / (na * nb)) if na > 0 and nb > 0 else None,
            'maxAbsDiff': float(np.max(np.abs(d))),
            'meanAbsDiff': float(np.mean(np.abs(d))),
            'changedFraction': float(np.count_nonzero(a != b) / a.size),
            'signFlipFraction': float(np.count_nonzero(a64 * b64 < 0) / a.size),
            'stdA': float(np.std(a64)),
            'stdB': float(np.std(b64)),
        }
    print(json.dumps({'relL2': float(np.sqrt(d2 / a2)), 'tensors': out}))


if __name__ == '__main__':
    main()
