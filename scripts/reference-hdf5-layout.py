#!/usr/bin/python3
"""Reference dataset locations for test/unit/formats/hdf5Layout.test.ts, from h5py (the HDF5 C library).

  reference-hdf5-layout.py --make DIR      writes HDF5 files with varied layouts into DIR
  reference-hdf5-layout.py FILE [MEMBER]   prints, as JSON, every dataset of FILE (or of the HDF5
                                           member MEMBER of the ZIP archive FILE) with what the HDF5
                                           library reports: shape, item size, byte order, chunks,
                                           filters, storage layout, H5Dget_offset, and the SHA-256 of
                                           its values as little-endian bytes.
"""
import hashlib
import json
import os
import sys
import zipfile

import h5py
import numpy as np


def make(out):
    rng = np.random.default_rng(7)
    # h5py defaults: superblock v0, old-style groups, contiguous datasets, nested groups.
    with h5py.File(os.path.join(out, 'default.h5'), 'w') as f:
        g = f.create_group('model_weights/dense/dense')
        g['kernel:0'] = rng.standard_normal((17, 5)).astype('<f4')
        g['bias:0'] = rng.standard_normal(5).astype('<f8')
        f['half'] = rng.standard_normal((3, 4)).astype('<f2')
        f['ints/i8'] = np.arange(-20, 20, dtype='i1')
        f['ints/u16'] = np.arange(0, 600, 3, dtype='<u2')
        f['ints/i64'] = np.arange(-5, 5, dtype='<i8') * (1 << 40)
        f['flags'] = np.array([True, False, True])
        f['scalar'] = np.float32(2.5)
        f.create_dataset('empty', shape=(0, 4), dtype='<f4')
        f.create_dataset('never_written', shape=(8,), dtype='<f4')  # storage allocated late: none
        f.create_dataset('gzip', data=rng.standard_normal((64, 8)).astype('<f4'), compression='gzip', chunks=(16, 8))
        f.create_dataset('chunked', data=rng.standard_normal((40, 6)).astype('<f4'), chunks=(8, 6))
        f['big_endian'] = rng.standard_normal(12).astype('>f4')
        f['strings'] = np.array([b'a', b'bc'])
        f['alias'] = f['model_weights/dense/dense/kernel:0']  # a second hard link
        f['soft'] = h5py.SoftLink('/half')
        # Many attributes push the header into continuation blocks.
        d = f.create_dataset('many_attrs', data=np.arange(30, dtype='<f4'))
        for i in range(60):
            d.attrs[f'attribute_{i:03d}'] = np.arange(i % 7 + 1, dtype='f8')
    # Many members: a group B-tree with several symbol table nodes and an internal level.
    with h5py.File(os.path.join(out, 'wide.h5'), 'w') as f:
        g = f.create_group('layers')
        for i in range(300):
            g[f'w{i:04d}'] = np.full((2, 3), i, dtype='<f4')
    # Newest format: superblock v3, v2 object headers, compact link storage, v2 dataspaces.
    with h5py.File(os.path.join(out, 'latest.h5'), 'w', libver='latest') as f:
        g = f.create_group('vars')
        g['0'] = rng.standard_normal((9, 7)).astype('<f4')
        g['1'] = rng.standard_normal(7).astype('<f8')
        f['top'] = np.arange(10, dtype='<i4')
        d = f.create_dataset('many_attrs', data=np.arange(20, dtype='<f2'))
        for i in range(40):
            d.attrs[f'a{i}'] = np.arange(5, dtype='f8')
    # Newest format with a group too large for compact links (dense storage in a fractal heap).
    with h5py.File(os.path.join(out, 'dense-links.h5'), 'w', libver='latest') as f:
        g = f.create_group('many')
        for i in range(40):
            g[f'd{i}'] = np.full(3, i, dtype='<f4')
        f['shallow'] = np.arange(6, dtype='<f4')
    # A user block before the superblock: every address is relative to the superblock.
    with h5py.File(os.path.join(out, 'userblock.h5'), 'w', userblock_size=512) as f:
        f['x'] = rng.standard_normal((6, 6)).astype('<f4')
        f['g/y'] = np.arange(7, dtype='<u1')
    # A user block larger than the 4 KiB a format is first sniffed from.
    with h5py.File(os.path.join(out, 'userblock-64k.h5'), 'w', userblock_size=65536) as f:
        f['x'] = rng.standard_normal((5, 3)).astype('<f4')
        f['g/y'] = np.arange(9, dtype='<i2')
    # Attributes in every encoding Keras and h5py use: variable-length and fixed-length strings
    # (ASCII and UTF-8, scalars and arrays), numbers of every width, empty arrays, long JSON.
    with h5py.File(os.path.join(out, 'attributes.h5'), 'w') as f:
        f.attrs['model_config'] = json.dumps({'class_name': 'Sequential', 'config': {'name': 'm\u00e9', 'layers': [{'units': i} for i in range(400)]}})
        f.attrs['keras_version'] = '2.15.0'
        f.attrs['backend'] = np.bytes_(b'tensorflow')
        f.attrs['layer_names'] = np.array([b'dense', b'dense_1', b'flatten'])
        f.attrs['utf8_names'] = np.array(['caf\u00e9', 'na\u00efve', ''], dtype=h5py.string_dtype('utf-8'))
        f.attrs['ascii_vlen'] = np.array(['a', 'bc'], dtype=h5py.string_dtype('ascii'))
        f.attrs['padded'] = np.array([b'ab\x00\x00', b'abcd'], dtype='S4')
        f.attrs['i8'] = np.int8(-5)
        f.attrs['u16s'] = np.array([1, 65535], dtype='<u2')
        f.attrs['i64s'] = np.array([-(2 ** 40), 2 ** 40], dtype='<i8')
        f.attrs['u64'] = np.uint64(2 ** 50)
        f.attrs['f32s'] = np.array([0.5, -1.25, 3e-8], dtype='<f4')
        f.attrs['f64'] = np.float64(2.718281828459045)
        f.attrs['empty'] = np.zeros((0,), dtype='<f8')
        f.attrs['matrix'] = np.arange(6, dtype='<i4').reshape(2, 3)
        g = f.create_group('dense')
        g.attrs['weight_names'] = np.array([b'dense/kernel:0', b'dense/bias:0'])
        g['kernel:0'] = rng.standard_normal((4, 3)).astype('<f4')
        g['bias:0'] = np.zeros(3, dtype='<f4')
        g['kernel:0'].attrs['note'] = 'a dataset attribute'
        f.create_group('flatten').attrs['weight_names'] = np.zeros((0,), dtype='<f8')
        f.create_group('empty_group')
    # Attribute types the TypeScript reader leaves to the HDF5 library.
    with h5py.File(os.path.join(out, 'attr-float16.h5'), 'w') as f:
        f.attrs['half'] = np.float16(1.5)
        f['x'] = np.arange(3, dtype='<f4')
    with h5py.File(os.path.join(out, 'attr-bool.h5'), 'w') as f:
        f.attrs['flag'] = True
        f['x'] = np.arange(3, dtype='<f4')
    # Compact storage: the values live inside the object header.
    with h5py.File(os.path.join(out, 'compact.h5'), 'w') as f:
        data = rng.standard_normal(10).astype('<f4')
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        space = h5py.h5s.create_simple((10,))
        dsid = h5py.h5d.create(f.id, b'compact', h5py.h5t.IEEE_F32LE, space, dcpl=dcpl)
        dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, data)
        f['contiguous'] = data


def describe(f):
    out = []

    def visit(name, obj):
        if not isinstance(obj, h5py.Dataset):
            return
        dcpl = obj.id.get_create_plist()
        layout = {h5py.h5d.COMPACT: 'compact', h5py.h5d.CONTIGUOUS: 'contiguous', h5py.h5d.CHUNKED: 'chunked'}.get(dcpl.get_layout(), 'other')
        entry = {
            'path': '/' + name,
            'shape': list(obj.shape) if obj.shape is not None else None,
            'itemBytes': obj.dtype.itemsize,
            'kind': obj.dtype.kind,
            'byteOrder': obj.dtype.byteorder,
            'layout': layout,
            'filters': dcpl.get_nfilters(),
            'offset': obj.id.get_offset(),
        }
        if obj.dtype.kind in 'fiub' and obj.shape is not None:
            values = np.ascontiguousarray(obj[()]).astype(obj.dtype.newbyteorder('<'))
            entry['sha256'] = hashlib.sha256(values.tobytes()).hexdigest()
        out.append(entry)

    # visit() lists each object once; walk the links instead, as a dataset may have two paths.
    def walk(group, prefix):
        for key in group:
            link = group.get(key, getlink=True)
            if not isinstance(link, h5py.HardLink):
                continue
            obj = group[key]
            if isinstance(obj, h5py.Group):
                if obj.id not in seen:
                    seen.add(obj.id)
                    walk(obj, prefix + key + '/')
            else:
                visit(prefix + key, obj)

    seen = {f['/'].id}
    walk(f, '')
    return out


def main():
    if sys.argv[1] == '--make':
        make(sys.argv[2])
        return
    if len(sys.argv) > 2:
        with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as member, h5py.File(member, 'r') as f:
            print(json.dumps(describe(f)))
    else:
        with h5py.File(sys.argv[1], 'r') as f:
            print(json.dumps(describe(f)))


main()
