/**
 * The contract every format reader implements: a cheap sniff that never throws, and an open that
 * parses headers only and returns a WeightFile whose tensors read their data lazily.
 */
import type { ByteSource, FileSet } from '../core/byteSource';
import type { FormatId, WeightFile } from '../core/model';

/** What the registry shows a reader when sniffing. */
export interface SniffInput {
  /** Base name of the file, e.g. 'model.json'. */
  fileName: string;
  /** File size in bytes. */
  size: number;
  /** The first bytes of the file (up to 4096). */
  head: Uint8Array;
  /** The last bytes of the file (up to 64). */
  tail: Uint8Array;
}

/** Options for opening a file. */
export interface OpenOptions {
  /** Cancels a long open (large indexes); the reader then throws `cancelled`. */
  signal?: AbortSignal;
}

/** One format. */
export interface FormatReader {
  /** Primary format id (a reader may return related ids, e.g. tfjs-layers / tfjs-graph). */
  readonly id: FormatId;
  /** Human-readable name for listings. */
  readonly displayName: string;
  /**
   * Cheap check on the first/last bytes and the name. Never throws. Returns a confidence
   * (higher wins; 100 = certain by magic bytes, 50 = by name only) or undefined for "not mine".
   */
  sniff(input: SniffInput): number | undefined;
  /**
   * A second look at a file that no reader's `sniff` claims, for magic that can lie past the first
   * bytes (an HDF5 superblock after a user block): a few small reads, never the whole file. Never
   * throws; same confidences as `sniff`.
   */
  sniffFurther?(source: ByteSource, input: SniffInput): Promise<number | undefined>;
  /** Parses headers. Throws WeightFileError when the file is this format but unreadable. */
  open(source: ByteSource, files: FileSet, options?: OpenOptions): Promise<WeightFile>;
}
