/**
 * The diagnostics engine: the `Diagnostic` every rule produces, the input the rules read, and
 * `runDiagnostics`, which runs every rule of the registry. A new diagnostic is one rule file in
 * this folder plus one line in registry.ts. Rules are synchronous and pure: data reading (value
 * samples, precision passes) happens before, in check.ts or the caller.
 */
import type { WeightFile } from '../../core/model';
import type { PrecisionReport } from '../precision';
import type { TensorStats } from '../statsTypes';
import { rules } from './registry';
import { RuleContext } from './ruleContext';

/** How bad a finding is: errors fail `weightscope check --fail-on error`. */
export type Severity = 'error' | 'warning' | 'info';

/** Evidence values: numbers, strings, booleans or null (JSON-safe; no NaN or Infinity). */
export type EvidenceValue = number | string | boolean | null;

/** One finding about the weights. */
export interface Diagnostic {
  /** Severity. */
  severity: Severity;
  /** Stable code, e.g. 'initializer-scale'; documented in docs/diagnostics.md. */
  code: string;
  /** Layer the finding is about, when it is about one. */
  layer?: string;
  /** Tensor the finding is about, when it is about one. */
  tensor?: string;
  /** One or two sentences for the user. */
  message: string;
  /** The numbers behind the verdict. */
  evidence: Record<string, EvidenceValue>;
}

/** What the rules read. */
export interface DiagnosticsInput {
  /** The opened file (architecture, tensors). */
  file: WeightFile;
  /** Exact statistics per tensor name (missing entries: the rules fall back to samples or skip). */
  stats: ReadonlyMap<string, TensorStats>;
  /** Per-tensor value samples for distribution-shape tests, keyed by tensor name (<= 65536 values each, see sampleTensor). */
  samples?: ReadonlyMap<string, Float64Array>;
  /** Precision reports per tensor name, for the precision rules (absent: those rules stay silent). */
  precision?: ReadonlyMap<string, PrecisionReport>;
}

/** A diagnostic rule: one file in this folder, one line in registry.ts. */
export interface DiagnosticRule {
  /** Rule id (its file name). */
  id: string;
  /** Codes this rule can emit. */
  codes: readonly string[];
  /** One line on what it checks. */
  description: string;
  /** Produces the rule's findings. */
  run(ctx: RuleContext): Diagnostic[];
}

const severityOrder: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/**
 * Runs every registered rule and returns the findings ordered by severity, then layer order.
 * A rule that throws is reported as an 'internal' error diagnostic instead of aborting the run.
 */
export function runDiagnostics(input: DiagnosticsInput): Diagnostic[] {
  const ctx = new RuleContext(input);
  const out: Diagnostic[] = [];
  for (const rule of rules) {
    try {
      out.push(...rule.run(ctx));
    } catch (ex) {
      out.push({
        severity: 'error',
        code: 'internal',
        message: `The '${rule.id}' check failed: ${ex instanceof Error ? ex.message : String(ex)}`,
        evidence: { rule: rule.id },
      });
    }
  }
  const layerIndex = new Map(input.file.layers.map((l, i) => [l.name, i]));
  const order = (d: Diagnostic): number => (d.layer !== undefined ? (layerIndex.get(d.layer) ?? 1e9) : -1);
  return out
    .map((d) => ({ ...d, evidence: sanitizeEvidence(d.evidence) }))
    .sort((a, b) => severityOrder[a.severity] - severityOrder[b.severity] || order(a) - order(b));
}

/** Replaces non-finite numbers by null so the evidence survives JSON and postMessage. */
export function sanitizeEvidence(e: Record<string, EvidenceValue>): Record<string, EvidenceValue> {
  const out: Record<string, EvidenceValue> = {};
  for (const [k, v] of Object.entries(e)) {
    out[k] = typeof v === 'number' && !Number.isFinite(v) ? null : v;
  }
  return out;
}
