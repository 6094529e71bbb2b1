/**
 * The naming-convention check of one file for the weights panel: the name a history would order
 * it by (its file name, or its folder's for generic entry files such as model.json) checked against
 * the `weightscope.namingConvention` pattern the diff and history use. No `vscode` import.
 */
import * as path from 'node:path';
import { checkNames, compileNamingConvention, parseCheckpointName, type NamingConvention } from '../analysis/namingConvention';
import type { NamingCheckDto } from '../protocol/weightsPanel';

/** Entry file names that say nothing about the checkpoint: the folder holding them is its name. */
const genericEntryNames: ReadonlySet<string> = new Set(['model.json', 'saved_model.pb', 'variables.index', 'config.json', 'checkpoint']);

/**
 * The name of a checkpoint as a history labels it: the base name of `p` (a POSIX path), or the
 * name of its folder for generic entry files (model.json, saved_model.pb ...).
 */
export function checkpointLabel(p: string): string {
  const base = path.posix.basename(p);
  if (!genericEntryNames.has(base)) {
    return base;
  }
  let dir = path.posix.dirname(p);
  if (base === 'variables.index' && path.posix.basename(dir) === 'variables') {
    dir = path.posix.dirname(dir);
  }
  return path.posix.basename(dir) || base;
}

/** Checks a checkpoint's name against a naming pattern ('' = no convention configured). */
export function checkNaming(pattern: string, name: string): NamingCheckDto {
  if (pattern.trim() === '') {
    return { state: 'off', pattern: '', name, problems: [] };
  }
  let c: NamingConvention;
  try {
    c = compileNamingConvention(pattern);
  } catch (ex) {
    return { state: 'invalidPattern', pattern, name, message: ex instanceof Error ? ex.message : String(ex), problems: [] };
  }
  const warnings = checkNames(c, [name]);
  const problems = warnings.filter((w) => w.kind === 'pattern').map((w) => w.message);
  const values = parseCheckpointName(c, name);
  const fields = values ? c.fields.map((f) => ({ name: f.name, value: values[f.name]! })) : undefined;
  const mismatch = warnings.find((w) => w.kind === 'mismatch');
  if (mismatch || !fields) {
    return { state: 'mismatch', pattern, name, message: mismatch?.message ?? `'${name}' does not follow the naming convention '${pattern}'.`, problems };
  }
  const ambiguous = warnings.find((w) => w.kind === 'ambiguous');
  if (ambiguous) {
    return { state: 'ambiguous', pattern, name, message: ambiguous.message, fields, problems };
  }
  return { state: 'match', pattern, name, fields, problems };
}
