/**
 * The metadata sidecar (`<checkpoint>.weightscope.json`, see src/core/sidecar.ts) as the diff panel
 * and the weights panel show and edit it: one DTO and one edit shape for both panels.
 */

/** A checkpoint's metadata sidecar as a panel shows it. */
export interface SidecarDto {
  /** Notes ('' when none). */
  notes: string;
  /** Tags (empty when none). */
  tags: string[];
  /** Parent checkpoint, relative to the checkpoint's folder, or ''. */
  parent: string;
  /** Metrics by name. */
  metrics: Record<string, number>;
  /** Creation time (ISO 8601), when the sidecar exists and records it. */
  created?: string;
  /** Git commit of the workspace recorded at creation; null when it was not in a git work tree. */
  gitCommit?: string | null;
  /** Model fingerprint recorded in the sidecar (SHA-256 hex), when it holds one. */
  modelFingerprint?: string;
  /** Training epoch recorded in the sidecar, when known. */
  epoch?: number;
  /** Training step recorded in the sidecar, when known. */
  step?: number;
  /** Absolute path of the sidecar file (whether or not it exists). */
  path: string;
  /** True when the sidecar file exists. */
  exists: boolean;
}

/** The editable fields of a sidecar, as a panel sends them to be saved. */
export interface SidecarEditDto {
  /** Notes ('' removes them). */
  notes: string;
  /** Tags (empty removes them). */
  tags: string[];
  /** Parent checkpoint, relative to the checkpoint's folder ('' for none). */
  parent: string;
  /** Metrics by name (finite numbers; empty removes them). */
  metrics: Record<string, number>;
}
