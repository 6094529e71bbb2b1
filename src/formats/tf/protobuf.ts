/**
 * A small bounds-checked protobuf wire-format decoder (https://protobuf.dev/programming-guides/encoding/).
 * Only what the TensorFlow messages need: varints (int64 exact via BigInt), fixed32/fixed64,
 * length-delimited fields, packed repeated varints, and skipping unknown fields.
 * Every problem throws a `corrupt` WeightFileError whose message names `context`.
 */
import { WeightFileError } from '../../core/errors';

/** Protobuf wire types. */
export const WireType = {
  /** int32, int64, uint*, bool, enum. */
  Varint: 0,
  /** fixed64, sfixed64, double. */
  Fixed64: 1,
  /** string, bytes, messages, packed repeated fields. */
  LengthDelimited: 2,
  /** Deprecated group start. */
  StartGroup: 3,
  /** Deprecated group end. */
  EndGroup: 4,
  /** fixed32, sfixed32, float. */
  Fixed32: 5,
} as const;

/** One of the protobuf wire type numbers. */
export type WireType = (typeof WireType)[keyof typeof WireType];

/** Longest varint the wire format allows, in bytes. */
const maxVarintBytes = 10;

/** Deepest group nesting skipped before the input is called corrupt. */
const maxGroupDepth = 64;

const utf8 = new TextDecoder('utf-8');

/** Sequential reader over one serialized message. */
export class ProtoReader {
  /** Current byte position in `bytes`. */
  pos = 0;

  /** `context` names the message for error texts, e.g. "ckpt.index: entry 'a'". */
  constructor(
    private readonly bytes: Uint8Array,
    private readonly context: string,
  ) {}

  /** True when every byte has been consumed. */
  done(): boolean {
    return this.pos >= this.bytes.length;
  }

  /** Reads a field tag: [field number, wire type]. */
  tag(): [number, WireType] {
    const at = this.pos;
    const v = this.varint();
    const field = Math.floor(v / 8);
    const wire = v % 8;
    if (field === 0 || field > 0x1fffffff || wire > 5) {
      throw this.error(`invalid field tag ${v} at byte ${at}`);
    }
    return [field, wire as WireType];
  }

  /** Reads a varint as a BigInt (exact for the full uint64 range). */
  varintBig(): bigint {
    let result = 0n;
    for (let i = 0; i < maxVarintBytes; i++) {
      if (this.pos >= this.bytes.length) {
        throw this.error(`a varint at byte ${this.pos - i} runs past the end of the ${this.bytes.length}-byte message`);
      }
      const b = this.bytes[this.pos++]!;
      result |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) {
        return BigInt.asUintN(64, result);
      }
    }
    throw this.error(`a varint at byte ${this.pos - maxVarintBytes} is longer than ${maxVarintBytes} bytes`);
  }

  /** Reads a varint as a number; throws when it is above 2^53 - 1. */
  varint(): number {
    // Fast path for the common short varints.
    let result = 0;
    const start = this.pos;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.bytes.length) {
        throw this.error(`a varint at byte ${start} runs past the end of the ${this.bytes.length}-byte message`);
      }
      const b = this.bytes[this.pos++]!;
      result += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        return result;
      }
    }
    this.pos = start;
    const big = this.varintBig();
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw this.error(`the varint ${big} at byte ${start} is too large`);
    }
    return Number(big);
  }

  /** Reads an int64 field value (two's complement varint) exactly. */
  int64(wire: WireType): bigint {
    this.expect(wire, WireType.Varint);
    return BigInt.asIntN(64, this.varintBig());
  }

  /**
   * Reads an int64 field value that must be a non-negative safe integer (offsets, sizes, dims >= min);
   * short varints take a fast path without BigInt. Throws `corrupt` quoting the value otherwise.
   */
  int64Safe(wire: WireType, what: string, min = 0): number {
    this.expect(wire, WireType.Varint);
    const start = this.pos;
    let result = 0;
    for (let i = 0; i < 7 && this.pos < this.bytes.length; i++) {
      const b = this.bytes[this.pos++]!;
      result += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (result < min) {
          throw new WeightFileError('corrupt', `${this.context}: ${what} ${result} is out of range.`);
        }
        return result;
      }
    }
    this.pos = start;
    return safeNumber(BigInt.asIntN(64, this.varintBig()), what, this.context, BigInt(min));
  }

  /** Reads an int32/enum field value (negative values are 10-byte varints). */
  int32(wire: WireType): number {
    this.expect(wire, WireType.Varint);
    return Number(BigInt.asIntN(32, this.varintBig()));
  }

  /** Reads a bool field value. */
  bool(wire: WireType): boolean {
    this.expect(wire, WireType.Varint);
    return this.varintBig() !== 0n;
  }

  /** Reads a fixed32 field value as an unsigned number. */
  fixed32(wire: WireType): number {
    this.expect(wire, WireType.Fixed32);
    if (this.pos + 4 > this.bytes.length) {
      throw this.error(`a fixed32 at byte ${this.pos} runs past the end of the ${this.bytes.length}-byte message`);
    }
    const b = this.bytes;
    const p = this.pos;
    this.pos += 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  }

  /** Reads a length-delimited field value (a view, not a copy). */
  bytesField(wire: WireType): Uint8Array {
    this.expect(wire, WireType.LengthDelimited);
    const at = this.pos;
    const len = this.varint();
    if (len > this.bytes.length - this.pos) {
      throw this.error(`a field at byte ${at} declares ${len} bytes but only ${this.bytes.length - this.pos} remain`);
    }
    const out = this.bytes.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  /** Reads a string field value (UTF-8). */
  string(wire: WireType): string {
    return utf8.decode(this.bytesField(wire));
  }

  /** Reads a repeated varint field value, packed (one length-delimited run) or not (one value). */
  repeatedInt64(wire: WireType): bigint[] {
    if (wire === WireType.Varint) {
      return [this.int64(wire)];
    }
    const inner = new ProtoReader(this.bytesField(wire), this.context);
    const out: bigint[] = [];
    while (!inner.done()) {
      out.push(BigInt.asIntN(64, inner.varintBig()));
    }
    return out;
  }

  /** Skips a field value of the given wire type. */
  skip(wire: WireType, depth = 0): void {
    switch (wire) {
      case WireType.Varint:
        this.varintBig();
        return;
      case WireType.Fixed64:
        this.advance(8);
        return;
      case WireType.Fixed32:
        this.advance(4);
        return;
      case WireType.LengthDelimited:
        this.bytesField(wire);
        return;
      case WireType.StartGroup: {
        if (depth >= maxGroupDepth) {
          throw this.error(`groups nested deeper than ${maxGroupDepth} levels`);
        }
        for (;;) {
          const [, w] = this.tag();
          if (w === WireType.EndGroup) {
            return;
          }
          this.skip(w, depth + 1);
        }
      }
      case WireType.EndGroup:
        throw this.error(`an unexpected group end at byte ${this.pos}`);
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.bytes.length) {
      throw this.error(`a ${n}-byte field at byte ${this.pos} runs past the end of the ${this.bytes.length}-byte message`);
    }
    this.pos += n;
  }

  private expect(actual: WireType, wanted: WireType): void {
    if (actual !== wanted) {
      throw this.error(`wire type ${actual} where ${wanted} was expected, at byte ${this.pos}`);
    }
  }

  private error(detail: string): WeightFileError {
    return new WeightFileError('corrupt', `${this.context}: malformed protobuf, ${detail}.`);
  }
}

/** Converts an int64 to a number, or throws `corrupt` when it is outside [min, 2^53 - 1]. */
export function safeNumber(value: bigint, what: string, context: string, min = 0n): number {
  if (value < min || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new WeightFileError('corrupt', `${context}: ${what} ${value} is out of range.`);
  }
  return Number(value);
}
