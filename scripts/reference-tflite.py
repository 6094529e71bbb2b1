#!/usr/bin/python3
"""Independent reference values for the TFLite reader tests.

Decodes every .tflite under ../shared/fixtures/tflite with Debian's python3-flatbuffers (the
generic `flatbuffers.table.Table` accessors, field ids from the TFLite schema.fbs) and NumPy, and
writes test/unit/formats/tflite.reference.json: tensor/constant counts, constant names, dtypes,
shapes, quantization parameters, dequantized statistics (float64, sparse tensors densified with
their implicit zeros), raw int8 code summaries, op-code histograms, I/O, signatures and metadata.

Usage: /usr/bin/python3 scripts/reference-tflite.py
"""
import json
import os
import struct
import sys

import numpy as np
from flatbuffers import number_types as N
from flatbuffers.table import Table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(ROOT), 'shared', 'fixtures', 'tflite')
OUT = os.path.join(ROOT, 'test', 'unit', 'formats', 'tflite.reference.json')

# TensorType (schema.fbs) -> (name, numpy dtype or None)
TYPES = {
    0: ('float32', np.float32), 1: ('float16', np.float16), 2: ('int32', np.int32),
    3: ('uint8', np.uint8), 4: ('int64', np.int64), 5: ('string', None), 6: ('bool', np.uint8),
    7: ('int16', np.int16), 8: ('complex64', None), 9: ('int8', np.int8), 10: ('float64', np.float64),
    11: ('complex128', None), 12: ('uint64', np.uint64), 13: ('resource', None), 14: ('variant', None),
    15: ('uint32', np.uint32), 16: ('uint16', np.uint16), 17: ('int4', None), 18: ('bfloat16', None),
}
INT_TYPES = {2, 3, 4, 7, 9, 12, 15, 16}


def field(t, fid):
    """Offset of field `fid` inside table t (0 when absent)."""
    return t.Offset(4 + 2 * fid)


def scalar(t, fid, flags, default):
    o = field(t, fid)
    return t.Get(flags, t.Pos + o) if o else default


def sub(t, fid):
    o = field(t, fid)
    if not o:
        return None
    return Table(t.Bytes, t.Indirect(t.Pos + o))


def string(t, fid):
    o = field(t, fid)
    if not o:
        return None
    return t.String(t.Pos + o).decode('utf-8')


def vec_np(t, fid, flags):
    o = field(t, fid)
    if not o:
        return None
    return t.GetVectorAsNumpy(flags, o)


def vec_tables(t, fid):
    o = field(t, fid)
    if not o:
        return []
    n = t.VectorLen(o)
    start = t.Vector(o)
    return [Table(t.Bytes, t.Indirect(start + 4 * i)) for i in range(n)]


def vec_raw(t, fid):
    """(start, length) of a [ubyte] vector."""
    o = field(t, fid)
    if not o:
        return None
    return t.Vector(o), t.VectorLen(o)


def union(t, type_fid, value_fid):
    ty = scalar(t, type_fid, N.Uint8Flags, 0)
    o = field(t, value_fid)
    if ty == 0 or not o:
        return 0, None
    u = Table(t.Bytes, 0)
    t.Union(u, o)
    return ty, u


def stats(x):
    x = np.asarray(x, dtype=np.float64).ravel()
    fin = x[np.isfinite(x)]
    return {
        'count': int(x.size),
        'zeroCount': int(np.count_nonzero(x == 0)),
        'min': float(fin.min()) if fin.size else None,
        'max': float(fin.max()) if fin.size else None,
        'mean': float(fin.mean()) if fin.size else None,
        'std': float(fin.std()) if fin.size else None,
        'l2': float(np.sqrt(np.sum(fin * fin))),
        'first': [float(v) for v in x[:4]],
    }


def index_vector(dm, type_fid, value_fid):
    ty, u = union(dm, type_fid, value_fid)
    if u is None:
        return None
    flags = {1: N.Int32Flags, 2: N.Uint16Flags, 3: N.Uint8Flags}[ty]
    return vec_np(u, 0, flags).astype(np.int64)


def densify(values, shape, sp):
    """TACO-style sparse -> dense (TFLite FormatConverter::SparseToDense), non-recursive per level."""
    order = [int(v) for v in vec_np(sp, 0, N.Int32Flags)]
    bmap = vec_np(sp, 1, N.Int32Flags)
    bmap = [] if bmap is None else [int(v) for v in bmap]
    dims = vec_tables(sp, 2)
    rank = len(shape)
    block_sizes = [int(scalar(dims[rank + k], 1, N.Int32Flags, 0)) for k in range(len(bmap))]
    out = np.zeros(int(np.prod(shape)), dtype=np.float64)
    # Walk levels: each path is (prev_idx, indices-so-far)
    paths = [(0, [])]
    for level, dm in enumerate(dims):
        fmt = scalar(dm, 0, N.Int8Flags, 0)
        nxt = []
        if fmt == 0:
            size = int(scalar(dm, 1, N.Int32Flags, 0))
            for prev, idx in paths:
                for i in range(size):
                    nxt.append((prev * size + i, idx + [i]))
        else:
            seg = index_vector(dm, 2, 3)
            ind = index_vector(dm, 4, 5)
            for prev, idx in paths:
                for k in range(int(seg[prev]), int(seg[prev + 1])):
                    nxt.append((k, idx + [int(ind[k])]))
        paths = nxt
    assert len(paths) == len(values), (len(paths), len(values))
    strides = np.cumprod([1] + list(shape[::-1]))[:-1][::-1]
    for k, (_, idx) in enumerate(paths):
        orig = [0] * rank
        for i in range(rank):
            orig[order[i]] = idx[i]
        for i in range(rank, len(idx)):
            b = order[i] - rank
            orig[bmap[b]] = orig[bmap[b]] * block_sizes[b] + idx[i]
        out[int(np.dot(orig, strides))] = values[k]
    return out


def decode_file(path):
    buf = bytearray(open(path, 'rb').read())
    assert buf[4:8] == b'TFL3'
    root = struct.unpack_from('<I', buf, 0)[0]
    model = Table(buf, root)
    buffers = vec_tables(model, 4)

    def buffer_bytes(bi):
        b = buffers[bi]
        r = vec_raw(b, 0)
        if r is not None and r[1] > 0:
            return bytes(buf[r[0]:r[0] + r[1]])
        off = scalar(b, 1, N.Uint64Flags, 0)
        size = scalar(b, 2, N.Uint64Flags, 0)
        if off > 1:
            return bytes(buf[off:off + size])
        return b''

    opcodes = []
    for oc in vec_tables(model, 1):
        dep = scalar(oc, 0, N.Int8Flags, 0)
        code = scalar(oc, 3, N.Int32Flags, 0)
        opcodes.append({'code': max(dep, code), 'custom': string(oc, 1), 'version': scalar(oc, 2, N.Int32Flags, 1)})

    result = {
        'version': scalar(model, 0, N.Uint32Flags, 0),
        'description': string(model, 3),
        'bufferCount': len(buffers),
        'operatorCodes': opcodes,
        'subgraphs': [],
    }
    for sg in vec_tables(model, 2):
        tensors = vec_tables(sg, 0)
        ops = vec_tables(sg, 3)
        hist = {}
        op_list = []
        for op in ops:
            code = opcodes[scalar(op, 0, N.Uint32Flags, 0)]['code']
            hist[str(code)] = hist.get(str(code), 0) + 1
            ins = vec_np(op, 1, N.Int32Flags)
            outs = vec_np(op, 2, N.Int32Flags)
            op_list.append((code, [] if ins is None else [int(v) for v in ins], [] if outs is None else [int(v) for v in outs]))
        consumers = {}
        for oi, (code, ins, _) in enumerate(op_list):
            for slot, ti in enumerate(ins):
                if ti >= 0:
                    consumers.setdefault(ti, []).append((oi, slot))

        def final_consumers(ti, depth=0):
            res = []
            for oi, slot in consumers.get(ti, []):
                code, _, outs = op_list[oi]
                if code in (6, 124) and outs and depth < 8:  # DEQUANTIZE, DENSIFY pass through
                    res.extend(final_consumers(outs[0], depth + 1))
                else:
                    res.append({'op': oi, 'code': code, 'slot': slot})
            return res

        def tensor_desc(ti):
            t = tensors[ti]
            ty = scalar(t, 1, N.Int8Flags, 0)
            shape = vec_np(t, 0, N.Int32Flags)
            d = {
                'index': ti,
                'name': string(t, 3),
                'type': TYPES.get(ty, ('unknown', None))[0],
                'shape': None if shape is None else [int(v) for v in shape],
                'buffer': scalar(t, 2, N.Uint32Flags, 0),
            }
            q = sub(t, 4)
            if q is not None:
                sc = vec_np(q, 2, N.Float32Flags)
                zp = vec_np(q, 3, N.Int64Flags)
                mn = vec_np(q, 0, N.Float32Flags)
                mx = vec_np(q, 1, N.Float32Flags)
                d['quant'] = {
                    'scale': None if sc is None else [float(v) for v in sc],
                    'zeroPoint': None if zp is None else [int(v) for v in zp],
                    'min': None if mn is None else [float(v) for v in mn],
                    'max': None if mx is None else [float(v) for v in mx],
                    'dim': scalar(q, 6, N.Int32Flags, 0),
                }
            return d

        constants = []
        for ti, t in enumerate(tensors):
            d = tensor_desc(ti)
            raw = buffer_bytes(d['buffer'])
            if len(raw) == 0:
                continue
            ty = scalar(t, 1, N.Int8Flags, 0)
            npdt = TYPES[ty][1]
            shape = d['shape'] or []
            d['byteLength'] = len(raw)
            d['consumers'] = final_consumers(ti)
            vals = np.frombuffer(raw, dtype=np.dtype(npdt).newbyteorder('<'))
            sp = sub(t, 6)
            d['sparse'] = sp is not None
            if sp is not None:
                d['storedValues'] = int(vals.size)
                codes = densify(vals.astype(np.float64), shape, sp)
            else:
                codes = vals.astype(np.float64)
            q = d.get('quant')
            quantized = ty in INT_TYPES and q is not None and q['scale']
            if quantized:
                scale = np.array(q['scale'], dtype=np.float32).astype(np.float64)
                zp = np.array(q['zeroPoint'] or [0] * len(q['scale']), dtype=np.float64)
                if scale.size == 1:
                    real = scale[0] * (codes - zp[0])
                else:
                    axis = q['dim']
                    if axis >= len(shape):
                        axis = 0
                    bshape = [1] * len(shape)
                    bshape[axis] = scale.size
                    c = codes.reshape(shape)
                    real = (scale.reshape(bshape) * (c - zp.reshape(bshape))).ravel()
                d['stats'] = stats(real)
            else:
                d['stats'] = stats(codes)
            if ty == 9 and quantized:
                # raw int8 codes per channel (quantized_dimension), saturation counts
                axis = q['dim'] if len(q['scale']) > 1 else None
                c = codes.reshape(shape) if shape else codes
                if axis is None or axis >= len(shape):
                    per = [c.ravel()]
                else:
                    per = [np.take(c, i, axis=axis).ravel() for i in range(shape[axis])]
                d['int8'] = {
                    'channelMin': [int(p.min()) for p in per],
                    'channelMax': [int(p.max()) for p in per],
                    'atMinus128': int(np.count_nonzero(codes == -128)),
                    'at127': int(np.count_nonzero(codes == 127)),
                }
            constants.append(d)
        ins = vec_np(sg, 1, N.Int32Flags)
        outs = vec_np(sg, 2, N.Int32Flags)
        result['subgraphs'].append({
            'name': string(sg, 4),
            'tensorCount': len(tensors),
            'operatorCount': len(ops),
            'opHistogram': hist,
            'inputs': [tensor_desc(int(i)) for i in (ins if ins is not None else [])],
            'outputs': [tensor_desc(int(i)) for i in (outs if outs is not None else [])],
            'constants': constants,
        })

    meta = {}
    for m in vec_tables(model, 6):
        name = string(m, 0)
        data = buffer_bytes(scalar(m, 1, N.Uint32Flags, 0))
        if name == 'min_runtime_version':
            meta[name] = data.split(b'\0')[0].decode('ascii')
        elif name == 'CONVERSION_METADATA':
            cm = Table(bytearray(data), struct.unpack_from('<I', data, 0)[0])
            env = sub(cm, 0)
            opts = sub(cm, 1)
            modes = vec_np(opts, 0, N.Int32Flags) if opts is not None else None
            meta[name] = {
                'tensorflowVersion': string(env, 0) if env is not None else None,
                'apiVersion': scalar(env, 1, N.Uint32Flags, 0) if env is not None else None,
                'modelType': scalar(env, 2, N.Int32Flags, 0) if env is not None else None,
                'modelOptimizationModes': [] if modes is None else [int(v) for v in modes],
            }
        else:
            meta[name] = {'byteLength': len(data), 'text': data.decode('latin-1') if len(data) < 64 else None}
    result['metadata'] = meta
    mb = vec_np(model, 5, N.Int32Flags)
    result['metadataBuffer'] = None if mb is None else [
        {'buffer': int(b), 'byteLength': len(buffer_bytes(int(b))), 'identifier': buffer_bytes(int(b))[4:8].decode('latin-1')}
        for b in mb]
    sigs = []
    for s in vec_tables(model, 7):
        def tmap(fid):
            return [{'name': string(x, 0), 'tensorIndex': scalar(x, 1, N.Uint32Flags, 0)} for x in vec_tables(s, fid)]
        sigs.append({'key': string(s, 2), 'subgraphIndex': scalar(s, 4, N.Uint32Flags, 0), 'inputs': tmap(0), 'outputs': tmap(1)})
    result['signatureDefs'] = sigs
    return result


def main():
    if not os.path.isdir(FIXTURES):
        sys.exit(f'fixtures not found: {FIXTURES}')
    out = {}
    for dirpath, _, files in sorted(os.walk(FIXTURES)):
        for f in sorted(files):
            if f.endswith('.tflite'):
                p = os.path.join(dirpath, f)
                rel = os.path.relpath(p, os.path.dirname(FIXTURES))
                out[rel] = decode_file(p)
    with open(OUT, 'w') as fh:
        json.dump({'generator': 'scripts/reference-tflite.py (python3-flatbuffers + NumPy)', 'files': out}, fh, sort_keys=True, separators=(',', ':'))
        fh.write('\n')
    print(f'wrote {OUT}: {len(out)} files')


if __name__ == '__main__':
    main()
