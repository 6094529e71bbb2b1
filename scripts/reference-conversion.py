#!/usr/bin/python3
"""Independent reference values for the conversion check (src/analysis/conversionCheck.ts).

For each TFLite model under ../shared/fixtures/tflite whose float source is present, decodes the
.tflite with python3-flatbuffers (the field helpers of scripts/reference-tflite.py), dequantizes
its weights with NumPy (real = scale * (q - zero_point), per channel on quantized_dimension), reads
the float source (Keras .h5 with h5py; the SavedModel's tensor bundle with the reader of
scripts/reference-tf.py), folds each BatchNormalization into the layer before it in float64
(g = gamma / sqrt(var + eps); W' = W * g per output channel; b' = beta + (b - mean) * g), maps the
TFLite layouts onto Keras (FULLY_CONNECTED [out,in] -> [in,out], CONV_2D OHWI -> HWIO,
DEPTHWISE_CONV_2D [1,kh,kw,C*M] -> [kh,kw,C,M]) and writes per weight-consuming op: relative L2
error, SQNR (dB), max |error| over kernel + bias, the kernel's SQNR, and the int8 SQNR predicted
from the folded float kernel (symmetric, scale = max|w|/127 per tensor or per output channel,
round half away from zero, as the converter does).

Pairing here is independent of the TypeScript code: the .h5 by the layer scope in the TFLite
kernel's name and the Keras graph (inbound_nodes) for BN; the SavedModel by position (the k-th
weighted `layer_with_weights-N` object <-> the k-th weight-consuming op; a BN object right after a
conv folds into it).

Writes test/unit/analysis/conversionCheck.reference.json. Run: /usr/bin/python3 scripts/reference-conversion.py
"""
import importlib.util
import json
import os
import struct
import sys

import h5py
import numpy as np
from flatbuffers import number_types as N
from flatbuffers.table import Table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(ROOT), 'shared', 'fixtures', 'tflite')
OUT = os.path.join(ROOT, 'test', 'unit', 'analysis', 'conversionCheck.reference.json')


def load(name, file):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, 'scripts', file))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


RT = load('reference_tflite', 'reference-tflite.py')
RTF = load('reference_tf', 'reference-tf.py')

CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, DEQUANTIZE = 3, 4, 9, 6
NP_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 9: np.int8, 7: np.int16, 3: np.uint8}


def tflite_layers(path):
    """[(op index, op code, kernel name, kernel (dequantized, TFLite layout), bias or None, kernel scale count, kernel type)]."""
    buf = bytearray(open(path, 'rb').read())
    assert buf[4:8] == b'TFL3'
    model = Table(buf, struct.unpack_from('<I', buf, 0)[0])
    buffers = RT.vec_tables(model, 4)
    codes = []
    for oc in RT.vec_tables(model, 1):
        codes.append(max(RT.scalar(oc, 0, N.Int8Flags, 0), RT.scalar(oc, 3, N.Int32Flags, 0)))
    sg = RT.vec_tables(model, 2)[0]
    tensors = RT.vec_tables(sg, 0)
    ops = []
    for op in RT.vec_tables(sg, 3):
        ins = RT.vec_np(op, 1, N.Int32Flags)
        outs = RT.vec_np(op, 2, N.Int32Flags)
        ops.append((codes[RT.scalar(op, 0, N.Uint32Flags, 0)], [int(v) for v in ins], [int(v) for v in outs]))
    producer = {o: i for i, (_, _, outs) in enumerate(ops) for o in outs}

    def value(ti):
        # follow a DEQUANTIZE back to its constant
        if ti in producer and ops[producer[ti]][0] == DEQUANTIZE:
            ti = ops[producer[ti]][1][0]
        t = tensors[ti]
        ty = RT.scalar(t, 1, N.Int8Flags, 0)
        shape = [int(v) for v in RT.vec_np(t, 0, N.Int32Flags)]
        r = RT.vec_raw(buffers[RT.scalar(t, 2, N.Uint32Flags, 0)], 0)
        raw = bytes(buf[r[0]:r[0] + r[1]])
        codes_ = np.frombuffer(raw, dtype=np.dtype(NP_TYPES[ty]).newbyteorder('<')).astype(np.float64).reshape(shape)
        q = RT.sub(t, 4)
        scale = RT.vec_np(q, 2, N.Float32Flags) if q is not None else None
        nscale = 0
        if scale is not None and ty in (2, 3, 7, 9):
            zp = RT.vec_np(q, 3, N.Int64Flags)
            zp = np.zeros(len(scale)) if zp is None else zp.astype(np.float64)
            scale = scale.astype(np.float64)
            nscale = len(scale)
            if nscale == 1:
                codes_ = scale[0] * (codes_ - zp[0])
            else:
                axis = RT.scalar(q, 6, N.Int32Flags, 0)
                b = [1] * len(shape)
                b[axis] = nscale
                codes_ = scale.reshape(b) * (codes_ - zp.reshape(b))
        return RT.string(t, 3), codes_, nscale, ty

    out = []
    for i, (code, ins, _) in enumerate(ops):
        if code not in (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED):
            continue
        name, kernel, nscale, ty = value(ins[1])
        bias = value(ins[2])[1] if len(ins) > 2 and ins[2] >= 0 else None
        out.append((i, code, name, kernel, bias, nscale, ty))
    return out


def to_keras(code, kernel, keras_shape):
    if code == FULLY_CONNECTED:
        return kernel.T
    if code == CONV_2D:
        return kernel.transpose(1, 2, 3, 0)
    return kernel.transpose(1, 2, 3, 0).reshape(keras_shape)  # depthwise [1,kh,kw,C*M] -> [kh,kw,C,M]


def fold(kernel, bias, bn):
    """kernel in Keras layout (output channels innermost: HWIO, [in,out], [kh,kw,C,M] -> C*M)."""
    gamma, beta, mean, var, eps = bn
    g = gamma / np.sqrt(var + eps)
    flat = kernel.reshape(-1, g.size) * g
    b = np.zeros(g.size) if bias is None else bias
    return flat.reshape(kernel.shape), beta + (b - mean) * g


def round_half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def predicted_int8(w, per_channel, channels):
    flat = w.reshape(-1, channels) if per_channel else w.reshape(-1, 1)
    scale = np.abs(flat).max(axis=0) / 127
    safe = np.where(scale > 0, scale, 1)
    q = np.clip(round_half_away(flat / safe), -127, 127) * safe
    q = np.where(scale > 0, q, 0)
    e2 = float(np.sum((flat - q) ** 2))
    return None if e2 == 0 else 10 * np.log10(float(np.sum(flat ** 2)) / e2)


def metrics(pairs):
    sig2 = sum(float(np.sum(f * f)) for f, _ in pairs)
    err2 = sum(float(np.sum((t - f) ** 2)) for f, t in pairs)
    mx = max(float(np.max(np.abs(t - f))) for f, t in pairs)
    return {
        'relL2': float(np.sqrt(err2 / sig2)),
        'sqnrDb': None if err2 == 0 else float(10 * np.log10(sig2 / err2)),
        'maxAbsError': mx,
    }


def compare(tfl, float_layers):
    """float_layers: [(keras name, kernel (Keras layout), bias or None, bn tuple or None, bn name)] paired with tfl in order."""
    rows = []
    for (op, code, tname, kernel, bias, nscale, ty), (fname, fk, fb, bn, bn_name) in zip(tfl, float_layers):
        tk = to_keras(code, kernel, fk.shape)
        assert tk.shape == fk.shape, (tname, tk.shape, fk.shape)
        fk64, fb64 = fk.astype(np.float64), None if fb is None else fb.astype(np.float64)
        if bn is not None:
            fk64, fb64 = fold(fk64, fb64, bn)
        pairs = [(fk64, tk)]
        if bias is not None:
            pairs.append((np.zeros(bias.shape) if fb64 is None else fb64, bias))
        row = {'opIndex': op, 'floatLayer': fname, 'batchNorm': bn_name, **metrics(pairs)}
        row['kernelSqnrDb'] = metrics([(fk64, tk)])['sqnrDb']
        if ty == 9:
            channels = fk64.shape[-1] if code != DEPTHWISE_CONV_2D else fk64.shape[-2] * fk64.shape[-1]
            row['predictedSqnrDb'] = predicted_int8(fk64, nscale > 1, channels)
            row['predictedScheme'] = 'int8-per-channel' if nscale > 1 else 'int8-per-tensor'
        rows.append(row)
    return rows


def h5_float_layers(path, tfl):
    f = h5py.File(path, 'r')
    cfg = json.loads(f.attrs['model_config'])
    layers = cfg['config']['layers']
    follows = {}
    for layer in layers:
        if layer['class_name'] == 'BatchNormalization':
            src = layer['inbound_nodes'][0][0][0]
            follows[src] = layer
    mw = f['model_weights']
    out = []
    for _, code, tname, _, _, _, _ in tfl:
        suffix = {CONV_2D: '/Conv2D', FULLY_CONNECTED: '/MatMul', DEPTHWISE_CONV_2D: '/depthwise'}[code]
        part = next(p for p in tname.split(';') if p.endswith(suffix))
        name = part.split('/')[-2]
        g = mw[name][name]
        kernel = np.array(g['kernel:0'])
        bias = np.array(g['bias:0']) if 'bias:0' in g else None
        bn = None
        bn_name = None
        if name in follows:
            bl = follows[name]
            bn_name = bl['config']['name']
            b = mw[bn_name][bn_name]
            bn = tuple(np.array(b[k + ':0']).astype(np.float64) for k in ('gamma', 'beta', 'moving_mean', 'moving_variance')) + (bl['config'].get('epsilon', 0.001),)
        out.append((name, kernel, bias, bn, bn_name))
    return out


def bundle_float_layers(index_path, eps=0.001):
    prefix = index_path[:-len('.index')]
    _, entries = RTF.parse_index(index_path)
    header = {f: v for f, _, v in RTF.fields(entries[0][1]) if f in (1, 2)}
    objects = {}
    for key, value in entries[1:]:
        k = key.decode()
        parts = k.split('/')
        # 'layer_with_weights-N/<var>/.ATTRIBUTES/VARIABLE_VALUE' (optimizer slots have longer keys)
        if not k.startswith('layer_with_weights-') or len(parts) != 4 or parts[2:] != ['.ATTRIBUTES', 'VARIABLE_VALUE']:
            continue
        e = {1: 0, 2: b'', 3: 0, 4: 0, 5: 0}
        for fld, _, v in RTF.fields(value):
            e[fld] = v
        with open('%s.data-%05d-of-%05d' % (prefix, e[3], header.get(1, 1)), 'rb') as fh:
            fh.seek(e[4])
            raw = fh.read(e[5])
        arr = np.frombuffer(raw, dtype=np.dtype(RTF.DTYPES[e[1]][1])).reshape(RTF.shape_of(e[2]))
        obj, var = parts[0], parts[1]
        objects.setdefault(int(obj.split('-')[1]), {})[var] = arr
    out = []
    order = sorted(objects)
    for pos, n in enumerate(order):
        o = objects[n]
        kernel = o.get('kernel', o.get('depthwise_kernel'))
        if kernel is None:
            continue
        bn = None
        bn_name = None
        nxt = objects.get(order[pos + 1]) if pos + 1 < len(order) else None
        if nxt is not None and 'moving_mean' in nxt:
            bn = tuple(nxt[k].astype(np.float64) for k in ('gamma', 'beta', 'moving_mean', 'moving_variance')) + (eps,)
            bn_name = 'layer_with_weights-%d' % order[pos + 1]
        out.append(('layer_with_weights-%d' % n, kernel, o.get('bias'), bn, bn_name))
    return out


def main():
    if not os.path.isdir(FIXTURES):
        sys.exit(f'fixtures not found: {FIXTURES}')
    ref = {}
    resnet = 'mlperf-tiny-resnet8-tf2.4'
    for tf in ('pretrainedResnet.tflite', 'pretrainedResnet_quant.tflite'):
        tfl = tflite_layers(os.path.join(FIXTURES, resnet, tf))
        ref[f'{resnet}/{tf}'] = {'float': f'{resnet}/pretrainedResnet.h5', 'layers': compare(tfl, h5_float_layers(os.path.join(FIXTURES, resnet, 'pretrainedResnet.h5'), tfl))}
    kws = 'mlperf-tiny-kws-dscnn-tf2.3'
    floats = bundle_float_layers(os.path.join(FIXTURES, kws, 'kws_ref_model', 'variables', 'variables.index'))
    for tf in ('kws_ref_model.tflite', 'kws_ref_model_float32.tflite'):
        tfl = tflite_layers(os.path.join(FIXTURES, kws, tf))
        assert len(tfl) == len(floats)
        ref[f'{kws}/{tf}'] = {'float': f'{kws}/kws_ref_model', 'layers': compare(tfl, floats)}
    with open(OUT, 'w') as fh:
        json.dump(ref, fh, indent=1)
        fh.write('\n')
    print('wrote', os.path.relpath(OUT, ROOT))


if __name__ == '__main__':
    main()
