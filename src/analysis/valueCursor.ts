/**
 * Re-chunking over a tensor's value stream: readers yield chunks of their own sizes, and two
 * tensors compared element by element must advance in lockstep. Holds at most one chunk.
 */
import type { NumericArray } from '../core/dtypes';
import { WeightFileError } from '../core/errors';

/** A cursor over an async stream of typed-array chunks. */
export class ValueCursor {
  private readonly iterator: AsyncIterator<NumericArray>;
  private current: NumericArray | undefined;
  private pos = 0;
  private ended = false;

  /** Wraps a value stream. */
  constructor(stream: AsyncIterable<NumericArray>) {
    this.iterator = stream[Symbol.asyncIterator]();
  }

  /** Values left in the current chunk, pulling the next chunk when it is used up; 0 at the end. */
  async available(): Promise<number> {
    while (!this.ended && (this.current === undefined || this.pos >= this.current.length)) {
      const r = await this.iterator.next();
      if (r.done) {
        this.ended = true;
        this.current = undefined;
      } else {
        this.current = r.value;
        this.pos = 0;
      }
    }
    return this.current ? this.current.length - this.pos : 0;
  }

  /** The next `n` values (n <= available()) as a view, and advances. */
  take(n: number): NumericArray {
    const c = this.current;
    if (!c || this.pos + n > c.length) {
      throw new WeightFileError('corrupt', `A value stream was read past its current chunk (${n} values requested).`);
    }
    const out = c.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Stops the underlying stream early (releases its file reads). */
  async close(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      await this.iterator.return?.();
    }
  }
}

/**
 * Walks two value streams in lockstep, calling `visit` with equally long views, until both end.
 * Throws a `corrupt` WeightFileError when one stream ends before the other.
 */
export async function forEachAligned(
  a: AsyncIterable<NumericArray>,
  b: AsyncIterable<NumericArray>,
  visit: (a: NumericArray, b: NumericArray) => void,
  labels: { a: string; b: string } = { a: 'A', b: 'B' },
  signal?: AbortSignal,
): Promise<number> {
  const ca = new ValueCursor(a);
  const cb = new ValueCursor(b);
  let total = 0;
  try {
    for (;;) {
      if (signal?.aborted) {
        throw new WeightFileError('cancelled', 'The operation was cancelled.');
      }
      const na = await ca.available();
      const nb = await cb.available();
      if (na === 0 || nb === 0) {
        if (na !== nb) {
          const short = na === 0 ? labels.a : labels.b;
          throw new WeightFileError('corrupt', `${short}: the tensor's values ended after ${total} elements, before its partner's.`);
        }
        return total;
      }
      const n = Math.min(na, nb);
      visit(ca.take(n), cb.take(n));
      total += n;
    }
  } finally {
    await ca.close();
    await cb.close();
  }
}
