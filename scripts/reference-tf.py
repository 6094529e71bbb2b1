#!/usr/bin/python3
"""Independent reference values for the TensorFlow tensor-bundle reader tests.

A deliberately small, separate implementation in Python (standard library + NumPy only): it parses
each fixture's `.index` SSTable (footer, index block, data blocks, raw Snappy, masked CRC32C
computed bit by bit), decodes the BundleHeaderProto / BundleEntryProto fields by hand, reads
every numeric tensor with NumPy straight from its `.data-*` shard at the entry's offset, checks
its CRC32C, decodes the TrackableObjectGraph (checkpoint key -> full name, slot variables) and,
for SavedModels, the signature_def map of `saved_model.pb`.

Writes test/unit/formats/tfCheckpoint.reference.json. Run with Debian's python3:
    /usr/bin/python3 scripts/reference-tf.py
"""
import json
import os
import struct

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(ROOT), 'shared', 'fixtures')
OUT = os.path.join(ROOT, 'test', 'unit', 'formats', 'tfCheckpoint.reference.json')

# (fixture-relative .index path, saved_model.pb path or None)
BUNDLES = [
    ('tf-checkpoint-v2/keras-lso-ckpt-tf2.2/ckpt.index', None),
    ('tf-savedmodel/keras-lso-savedmodel-tf2.2/variables/variables.index', 'tf-savedmodel/keras-lso-savedmodel-tf2.2/saved_model.pb'),
    ('tf-savedmodel/serving-half-plus-two-tf2-cpu-tf2.14/00000123/variables/variables.index',
     'tf-savedmodel/serving-half-plus-two-tf2-cpu-tf2.14/00000123/saved_model.pb'),
    ('tf-savedmodel/serving-half-plus-two-cpu-tf1.14/00000123/variables/variables.index',
     'tf-savedmodel/serving-half-plus-two-cpu-tf1.14/00000123/saved_model.pb'),
    ('tf-savedmodel/serving-half-plus-two-mkl-tf1.12/00000123/variables/variables.index',
     'tf-savedmodel/serving-half-plus-two-mkl-tf1.12/00000123/saved_model.pb'),
    ('tf1-checkpoint/mattchubb-houseprices-tf1.10/model.ckpt.index', None),
    ('tflite/mlperf-tiny-kws-dscnn-tf2.3/kws_ref_model/variables/variables.index',
     'tflite/mlperf-tiny-kws-dscnn-tf2.3/kws_ref_model/saved_model.pb'),
]

DTYPES = {1: ('DT_FLOAT', '<f4'), 2: ('DT_DOUBLE', '<f8'), 3: ('DT_INT32', '<i4'), 4: ('DT_UINT8', 'u1'),
          5: ('DT_INT16', '<i2'), 6: ('DT_INT8', 'i1'), 7: ('DT_STRING', None), 9: ('DT_INT64', '<i8'),
          10: ('DT_BOOL', 'u1'), 14: ('DT_BFLOAT16', None), 17: ('DT_UINT16', '<u2'), 19: ('DT_HALF', '<f2'),
          22: ('DT_UINT32', '<u4'), 23: ('DT_UINT64', '<u8')}


def crc32c(data, crc=0):
    """Bitwise CRC-32C (Castagnoli, reflected polynomial 0x82F63B78)."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def unmask(m):
    rot = (m - 0xA282EAD8) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def varint(buf, pos):
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def snappy(buf):
    """Raw Snappy decompression, straight from format_description.txt."""
    n, pos = varint(buf, 0)
    out = bytearray()
    while pos < len(buf):
        tag = buf[pos]
        pos += 1
        t = tag & 3
        if t == 0:
            ln = tag >> 2
            if ln >= 60:
                k = ln - 59
                ln = int.from_bytes(buf[pos:pos + k], 'little')
                pos += k
            ln += 1
            out += buf[pos:pos + ln]
            pos += ln
            continue
        if t == 1:
            ln = ((tag >> 2) & 7) + 4
            off = ((tag >> 5) << 8) | buf[pos]
            pos += 1
        elif t == 2:
            ln = (tag >> 2) + 1
            off = int.from_bytes(buf[pos:pos + 2], 'little')
            pos += 2
        else:
            ln = (tag >> 2) + 1
            off = int.from_bytes(buf[pos:pos + 4], 'little')
            pos += 4
        for _ in range(ln):
            out.append(out[-off])
    assert len(out) == n
    return bytes(out)


def read_block(data, off, size):
    block = data[off:off + size]
    btype = data[off + size]
    stored = struct.unpack('<I', data[off + size + 1:off + size + 5])[0]
    assert unmask(stored) == crc32c(data[off:off + size + 1]), 'block crc'
    if btype == 1:
        block = snappy(block)
    nres = struct.unpack('<I', block[-4:])[0]
    end = len(block) - 4 * (nres + 1)
    entries = []
    pos = 0
    key = b''
    while pos < end:
        shared, pos = varint(block, pos)
        nonshared, pos = varint(block, pos)
        vlen, pos = varint(block, pos)
        key = key[:shared] + block[pos:pos + nonshared]
        pos += nonshared
        entries.append((key, block[pos:pos + vlen]))
        pos += vlen
    return entries, btype, nres


def fields(buf):
    """Yields (field, wire, value) of a protobuf message; value = int for varint/fixed, bytes for LEN."""
    pos = 0
    while pos < len(buf):
        tag, pos = varint(buf, pos)
        f, w = tag >> 3, tag & 7
        if w == 0:
            v, pos = varint(buf, pos)
        elif w == 1:
            v = struct.unpack('<Q', buf[pos:pos + 8])[0]
            pos += 8
        elif w == 5:
            v = struct.unpack('<I', buf[pos:pos + 4])[0]
            pos += 4
        elif w == 2:
            ln, pos = varint(buf, pos)
            v = buf[pos:pos + ln]
            pos += ln
        else:
            raise ValueError('wire type %d' % w)
        yield f, w, v


def shape_of(buf):
    dims = []
    for f, _, v in fields(buf):
        if f == 2:
            size = 0
            for ff, _, vv in fields(v):
                if ff == 1:
                    size = vv - (1 << 64) if vv >= 1 << 63 else vv
            dims.append(size)
    return dims


def parse_index(path):
    data = open(path, 'rb').read()
    footer = data[-48:]
    assert footer[40:] == bytes.fromhex('57fb808b247547db')
    _, p = varint(footer, 0)
    _, p = varint(footer, p)
    ioff, p = varint(footer, p)
    isize, p = varint(footer, p)
    index_entries, _, _ = read_block(data, ioff, isize)
    blocks = []
    entries = []
    for _, handle in index_entries:
        off, q = varint(handle, 0)
        size, _ = varint(handle, q)
        es, btype, nres = read_block(data, off, size)
        blocks.append({'compression': btype, 'restarts': nres, 'entries': len(es)})
        entries += es
    return blocks, entries


def object_graph(raw):
    nodes = [v for f, _, v in fields(raw) if f == 1]
    keys = {}
    slots = []
    for i, node in enumerate(nodes):
        for f, _, v in fields(node):
            if f == 2:
                a = {ff: vv for ff, _, vv in fields(v)}
                keys[a.get(3, b'').decode()] = {'node': i, 'fullName': a.get(2, b'').decode(), 'attribute': a.get(1, b'').decode()}
            elif f == 3:
                s = {ff: vv for ff, _, vv in fields(v)}
                slots.append({'variableNode': s.get(1, 0), 'slot': s.get(2, b'').decode(), 'slotNode': s.get(3, 0)})
    return len(nodes), keys, slots


def signatures(pb_path):
    top = open(pb_path, 'rb').read()
    meta = next(v for f, _, v in fields(top) if f == 2)
    out = {}
    for f, _, v in fields(meta):
        if f != 5:
            continue
        entry = {ff: vv for ff, _, vv in fields(v)}
        key = entry[1].decode()
        sig = {'inputs': {}, 'outputs': {}, 'methodName': ''}
        for ff, _, vv in fields(entry.get(2, b'')):
            if ff in (1, 2):
                m = {a: b for a, _, b in fields(vv)}
                ti = {}
                for a, _, b in fields(m.get(2, b'')):
                    ti[a] = b
                item = {'name': ti.get(1, b'').decode(), 'dtypeCode': ti.get(2, 0)}
                if 3 in ti:
                    unknown = any(a == 3 and b for a, _, b in fields(ti[3]))
                    if not unknown:
                        item['shape'] = shape_of(ti[3])
                sig['inputs' if ff == 1 else 'outputs'][m[1].decode()] = item
            elif ff == 3:
                sig['methodName'] = vv.decode()
        out[key] = sig
    return out


def summarize(values):
    a = np.asarray(values, dtype=np.float64).ravel()
    out = {'count': int(a.size), 'sum': float(a.sum()) if a.size else 0.0}
    if a.size:
        out['min'] = float(a.min())
        out['max'] = float(a.max())
    if a.size <= 64:
        out['values'] = [float(x) for x in a]
    else:
        out['first'] = [float(x) for x in a[:8]]
    return out


def bundle_reference(rel, pb_rel):
    index_path = os.path.join(FIXTURES, rel)
    prefix = index_path[:-len('.index')]
    blocks, entries = parse_index(index_path)
    assert entries[0][0] == b''
    header = {f: v for f, _, v in fields(entries[0][1]) if f in (1, 2)}
    num_shards = header.get(1, 0)
    tensors = {}
    graph = None
    for key, value in entries[1:]:
        e = {1: 0, 2: b'', 3: 0, 4: 0, 5: 0}
        for f, _, v in fields(value):
            e[f] = v
        name = key.decode()
        dname, npdt = DTYPES.get(e[1], ('code %d' % e[1], None))
        shard_path = '%s.data-%05d-of-%05d' % (prefix, e[3], num_shards)
        with open(shard_path, 'rb') as fh:
            fh.seek(e[4])
            raw = fh.read(e[5])
        shape = shape_of(e[2])
        t = {'dtype': dname, 'shape': shape, 'shard': e[3], 'offset': e[4], 'size': e[5],
             'crcOk': unmask(e[6]) == crc32c(raw)}
        if npdt is not None:
            t.update(summarize(np.frombuffer(raw, dtype=np.dtype(npdt))))
        elif dname == 'DT_STRING':
            # varint lengths, masked crc of the lengths, bytes; the entry crc covers the lengths as
            # fixed32 (fixed64 above 2^32-1), the 4 length-crc bytes, then the string bytes.
            count = int(np.prod(shape)) if shape else 1
            lengths, p = [], 0
            for _ in range(count):
                ln, p = varint(raw, p)
                lengths.append(ln)
            fixed = b''.join(struct.pack('<I' if ln <= 0xFFFFFFFF else '<Q', ln) for ln in lengths)
            t['lengthsCrcOk'] = unmask(struct.unpack('<I', raw[p:p + 4])[0]) == crc32c(fixed)
            t['crcOk'] = unmask(e[6]) == crc32c(fixed + raw[p:])
            if name == '_CHECKPOINTABLE_OBJECT_GRAPH':
                graph = raw[p + 4:p + 4 + lengths[0]]
        tensors[name] = t
    ref = {'dataBlocks': blocks, 'numShards': num_shards, 'tensors': tensors}
    if graph is not None:
        n, keys, slots = object_graph(graph)
        ref['objectGraph'] = {'nodes': n, 'keys': keys, 'slots': slots}
    if pb_rel:
        ref['signatures'] = signatures(os.path.join(FIXTURES, pb_rel))
        keras = keras_root_metadata(pb_rel)
        model = keras.get('model_config') if keras else None
        # The Keras model a SavedModel can be rebuilt from: class, layer names in order, training loss.
        ref['kerasModel'] = {
            'className': model['class_name'],
            'layers': [layer['config']['name'] for layer in model['config']['layers']],
            'loss': keras.get('training_config', {}).get('loss'),
        } if model else None
    return ref


def read_model_variables(rel):
    """Model variables of a TF2 object-based bundle as {full name: float64 array}: every
    VARIABLE_VALUE key named in the _CHECKPOINTABLE_OBJECT_GRAPH with a full name, outside the
    optimizer (`optimizer/...`, `.OPTIMIZER_SLOT`), metrics (`keras_api/...`) and `save_counter`.
    Used by scripts/reference-runtime.py for the NumPy forward pass of Keras SavedModels."""
    index_path = os.path.join(FIXTURES, rel)
    prefix = index_path[:-len('.index')]
    _, entries = parse_index(index_path)
    num_shards = {f: v for f, _, v in fields(entries[0][1]) if f in (1, 2)}.get(1, 0)
    raw_entries = {}
    for key, value in entries[1:]:
        e = {1: 0, 2: b'', 3: 0, 4: 0, 5: 0}
        for f, _, v in fields(value):
            e[f] = v
        with open('%s.data-%05d-of-%05d' % (prefix, e[3], num_shards), 'rb') as fh:
            fh.seek(e[4])
            raw_entries[key.decode()] = (e, fh.read(e[5]))
    e, raw = raw_entries['_CHECKPOINTABLE_OBJECT_GRAPH']
    p = 0
    ln, p = varint(raw, p)
    _, keys, _ = object_graph(raw[p + 4:p + 4 + ln])
    out = {}
    for key, info in keys.items():
        first = key.split('/')[0]
        if (info['attribute'] != 'VARIABLE_VALUE' or not info['fullName'] or '.OPTIMIZER_SLOT' in key
                or first in ('optimizer', 'keras_api', 'save_counter')):
            continue
        e, raw = raw_entries[key]
        dname, npdt = DTYPES[e[1]]
        assert dname == 'DT_FLOAT', (key, dname)
        assert unmask(e[6]) == crc32c(raw), key
        out[info['fullName']] = np.frombuffer(raw, dtype=np.dtype(npdt)).astype(np.float64).reshape(shape_of(e[2]))
    return out


def keras_root_metadata(pb_rel):
    """The Keras metadata JSON of the root object (node 0) of a SavedModel: SavedUserObject.metadata
    in saved_model.pb (TF 2.2-2.4), else the node-0 entry of keras_metadata.pb (TF 2.5+); None when
    the root is not a Keras object (`_tf_keras_*`) or there is no object graph (TF1)."""
    pb_path = os.path.join(FIXTURES, pb_rel)
    top = open(pb_path, 'rb').read()
    meta = next(v for f, _, v in fields(top) if f == 2)
    graph = next((v for f, _, v in fields(meta) if f == 7), b'')
    root = next((v for f, _, v in fields(graph) if f == 1), b'')
    user = {f: v for f, _, v in fields(next((v for f, _, v in fields(root) if f == 4), b''))}
    if not user.get(1, b'').startswith(b'_tf_keras'):
        return None
    text = user.get(3, b'')
    km = os.path.join(os.path.dirname(pb_path), 'keras_metadata.pb')
    if not text and os.path.exists(km):
        for f, _, v in fields(open(km, 'rb').read()):
            node = {ff: vv for ff, _, vv in fields(v)}
            if f == 1 and node.get(2, 0) == 0:
                text = node.get(5, b'')
    return json.loads(text.decode()) if text else None


def main():
    ref = {rel: bundle_reference(rel, pb) for rel, pb in BUNDLES}
    with open(OUT, 'w') as fh:
        json.dump(ref, fh, indent=1, sort_keys=True)
        fh.write('\n')
    print('wrote', os.path.relpath(OUT, ROOT), 'with', len(ref), 'bundles')


if __name__ == '__main__':
    main()
