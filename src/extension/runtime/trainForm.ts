/**
 * The Train Model form's checks, apart from VS Code so they can be tested: each answer is held to
 * the bounds a run spec file is (validateRunSpec), and the spec the form assembles is validated as
 * the JSON it is saved as before it is written or run, so "Run again" never meets a spec it refuses.
 */
import { numberProblem, validateRunSpec, type NumberField } from '../../runtime/runSpec';
import type { RunSpec } from '../../runtime/training';

/** The input box's message for `text` typed for `field`, or undefined when it is a valid value. */
export function formNumberMessage(field: NumberField, text: string): string | undefined {
  const want = text.trim() === '' ? 'a value' : numberProblem(field, Number(text));
  return want ? `Enter ${want}.` : undefined;
}

/** The overrides the form's "l1=X l2=X dropout=X" box holds, or the message for what it cannot take. */
export function parseOverrides(text: string): { overrides: Partial<Pick<RunSpec, 'l1' | 'l2' | 'dropout'>> } | { message: string } {
  const overrides: Partial<Pick<RunSpec, 'l1' | 'l2' | 'dropout'>> = {};
  for (const word of text.trim().split(/\s+/).filter((w) => w !== '')) {
    const m = /^(l1|l2|dropout)=(\S+)$/.exec(word);
    if (!m) {
      return { message: 'Use l1=X l2=X dropout=X.' };
    }
    const field = m[1] as 'l1' | 'l2' | 'dropout';
    const want = numberProblem(field, Number(m[2]));
    if (want) {
      return { message: `${field} takes ${want}.` };
    }
    overrides[field] = Number(m[2]);
  }
  return { overrides };
}

/**
 * The form's spec as it will be saved (JSON, where NaN and Infinity become null), validated as a
 * run spec file is; throws validateRunSpec's one-sentence error naming `specFile` and the field.
 */
export function checkedFormSpec(spec: RunSpec, specFile: string): RunSpec {
  return validateRunSpec(JSON.parse(JSON.stringify(spec)) as unknown, specFile);
}
