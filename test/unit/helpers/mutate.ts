/**
 * Deterministic byte mutations for bad-input tests: every damaged variant of a valid file must
 * either open or fail with a WeightFileError naming the file, and every tensor of an opened variant
 * must either stream its values or fail with a WeightFileError: never another exception, never a hang.
 */
import * as assert from 'node:assert/strict';
import { WeightFileError } from '../../../src/core/errors';
import type { WeightFile } from '../../../src/core/model';

/** Outcome counts of a mutation run. */
export interface MutationSummary {
  /** Variants that opened. */
  opened: number;
  /** Variants refused with a WeightFileError. */
  refused: number;
}

/** Where mutations land and how values are read back. */
export interface MutationOptions {
  /** Half of the changed bytes land in the first `headBytes` bytes, where headers usually are (default: anywhere). */
  headBytes?: number;
  /** Elements per chunk when reading back (default 3, so that chunk boundaries fall everywhere). */
  chunkElements?: number;
}

/** Opens `rounds` damaged copies of `base` (1-4 changed bytes, sometimes cut short) and checks the outcomes. */
export async function assertMutationsFailCleanly(
  fileName: string,
  base: Uint8Array,
  open: (bytes: Uint8Array) => Promise<WeightFile>,
  rounds: number,
  seed = 1,
  options: MutationOptions = {},
): Promise<MutationSummary> {
  const head = Math.min(options.headBytes ?? base.length, base.length);
  let state = seed >>> 0;
  const random = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 4294967296;
  };
  const summary: MutationSummary = { opened: 0, refused: 0 };
  for (let round = 0; round < rounds; round++) {
    // A copy (Buffer.prototype.slice would share the bytes, and damage would pile up).
    const bytes = new Uint8Array(base);
    const changes = 1 + Math.floor(random() * 4);
    for (let k = 0; k < changes; k++) {
      const i = Math.floor(random() * (random() < 0.5 ? head : bytes.length));
      bytes[i] = random() < 0.5 ? Math.floor(random() * 256) : bytes[i]! ^ (1 << Math.floor(random() * 8));
    }
    const variant = random() < 0.2 ? bytes.subarray(0, Math.floor(random() * bytes.length)) : bytes;
    let file: WeightFile;
    try {
      file = await open(variant);
    } catch (ex) {
      assert.ok(WeightFileError.is(ex), `round ${round}: open threw ${ex instanceof Error ? ex.stack : String(ex)}`);
      assert.ok(ex.message.includes(fileName), `round ${round}: message names the file: ${ex.message}`);
      summary.refused++;
      continue;
    }
    summary.opened++;
    for (const t of file.tensors) {
      try {
        for await (const chunk of t.readValues({ chunkElements: options.chunkElements ?? 3 })) {
          assert.ok(chunk.length >= 0);
        }
      } catch (ex) {
        assert.ok(WeightFileError.is(ex), `round ${round}: reading '${t.name}' threw ${ex instanceof Error ? ex.stack : String(ex)}`);
      }
    }
    await file.close();
  }
  return summary;
}
