/**
 * A CliIo that records what the CLI prints, for tests.
 */
import type { CliIo } from '../../../src/cli/io';

/** Captured standard output and error lines. */
export interface CapturedIo extends CliIo {
  /** Lines written to stdout. */
  stdout: string[];
  /** Lines written to stderr. */
  stderr: string[];
}

/** A fresh capturing CliIo (progress reporting disabled). */
export function captureIo(): CapturedIo {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t), progress: () => () => undefined };
}
