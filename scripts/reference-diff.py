#!/usr/bin/python3
"""Reference values for the diff and history tests, computed with NumPy on the checkpoints that
scripts/diff-training-run.cjs writes (the same generator the tests run). Reads model.json +
weights.bin directly (TF.js layout: weights in manifest order, little-endian float32, no padding)
and writes test/unit/analysis/diff.reference.json, including the SHA-256 of every file so the
tests can check that their run wrote the very same bytes.

    /usr/bin/python3 scripts/reference-diff.py
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'test', 'unit', 'analysis', 'diff.reference.json')
PAIRS = [('epoch-000', 'epoch-001'), ('epoch-001', 'epoch-003'), ('epoch-000', 'epoch-003')]


def load(folder):
    with open(os.path.join(folder, 'model.json')) as f:
        model = json.load(f)
    tensors = {}
    order = []
    for group in model['weightsManifest']:
        data = b''.join(open(os.path.join(folder, p), 'rb').read() for p in group['paths'])
        offset = 0
        for w in group['weights']:
            assert w['dtype'] == 'float32', w
            n = int(np.prod(w['shape'], dtype=np.int64))
            arr = np.frombuffer(data, dtype='<f4', count=n, offset=offset).reshape(w['shape'])
            offset += 4 * n
            tensors[w['name']] = arr.astype(np.float64)
            order.append(w['name'])
    return order, tensors


def ratio(x, y):
    if y > 0:
        return float(x / y)
    return 0.0 if x == 0 else None


def tensor_diff(a, b):
    a = a.ravel()
    b = b.ravel()
    d = b - a
    na, nb, nd = np.linalg.norm(a), np.linalg.norm(b), np.linalg.norm(d)
    return {
        'count': int(a.size),
        'relL2': ratio(nd, na),
        'cosine': float(np.dot(a, b) / (na * nb)) if na > 0 and nb > 0 else None,
        'maxAbsDiff': float(np.max(np.abs(d))),
        'meanAbsDiff': float(np.mean(np.abs(d))),
        'changedFraction': float(np.mean(a != b)),
        'signFlipFraction': float(np.mean(a * b < 0)),
        'normA': float(na),
        'normB': float(nb),
        'diffNorm': float(nd),
        'meanA': float(np.mean(a)),
        'meanB': float(np.mean(b)),
        'stdA': float(np.std(a)),
        'stdB': float(np.std(b)),
    }


def layer_of(name):
    return name.rsplit('/', 1)[0]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(['node', os.path.join(ROOT, 'scripts', 'diff-training-run.cjs'), tmp], check=True, stdout=subprocess.DEVNULL)
        folders = sorted(os.listdir(tmp))
        sha = {}
        for f in folders:
            for name in sorted(os.listdir(os.path.join(tmp, f))):
                sha[f + '/' + name] = hashlib.sha256(open(os.path.join(tmp, f, name), 'rb').read()).hexdigest()
        loaded = {f: load(os.path.join(tmp, f)) for f in folders}

    pairs = []
    for fa, fb in PAIRS:
        order, ta = loaded[fa]
        _, tb = loaded[fb]
        tensors = {n: tensor_diff(ta[n], tb[n]) for n in order}
        layers = {}
        for n in order:
            l = layers.setdefault(layer_of(n), {'a2': 0.0, 'd2': 0.0})
            l['a2'] += float(np.sum(ta[n] ** 2))
            l['d2'] += float(np.sum((tb[n] - ta[n]) ** 2))
        a2 = sum(l['a2'] for l in layers.values())
        d2 = sum(l['d2'] for l in layers.values())
        layer_rel = {k: ratio(np.sqrt(v['d2']), np.sqrt(v['a2'])) for k, v in layers.items()}
        top = sorted(layer_rel, key=lambda k: -layer_rel[k])
        pairs.append({'a': fa, 'b': fb, 'tensors': tensors, 'layers': layer_rel, 'topLayers': top, 'relL2': ratio(np.sqrt(d2), np.sqrt(a2))})

    # History: per layer and checkpoint, over all the layer's values concatenated.
    history = {}
    order, first = loaded[folders[0]]
    for n in order:
        history.setdefault(layer_of(n), [])
    for f in folders:
        _, t = loaded[f]
        for layer in history:
            names = [n for n in order if layer_of(n) == layer]
            v = np.concatenate([t[n].ravel() for n in names])
            v0 = np.concatenate([first[n].ravel() for n in names])
            history[layer].append({
                'checkpoint': f,
                'norm': float(np.linalg.norm(v)),
                'mean': float(np.mean(v)),
                'std': float(np.std(v)),
                'distanceFromFirst': float(np.linalg.norm(v - v0)),
            })

    with open(OUT, 'w') as f:
        json.dump({'generator': 'scripts/diff-training-run.cjs', 'numpy': np.__version__, 'sha256': sha, 'pairs': pairs, 'history': history}, f, indent=1)
        f.write('\n')
    print('wrote', os.path.relpath(OUT, ROOT), file=sys.stderr)


if __name__ == '__main__':
    main()
