/**
 * The extension's log: one LogOutputChannel ("Weightscope"), shown by the Show Output command.
 */
import * as vscode from 'vscode';
import { summarizeError } from '../core/errors';

/** The channel, created on first use. */
let channel: vscode.LogOutputChannel | undefined;

/** The Weightscope log channel. */
export function log(): vscode.LogOutputChannel {
  channel ??= vscode.window.createOutputChannel('Weightscope', { log: true });
  return channel;
}

/**
 * Logs a failure: WeightFileErrors (bad input, expected) as warnings with their reason, anything
 * else (a bug) as an error with the stack.
 */
export function logFailure(context: string, ex: unknown): void {
  const summary = summarizeError(ex);
  if (summary.reason === 'internal') {
    log().error(`${context}: ${ex instanceof Error ? (ex.stack ?? ex.message) : String(ex)}`);
  } else {
    log().warn(`${context}: [${summary.reason}] ${summary.message}`);
  }
}
