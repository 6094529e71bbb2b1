/**
 * A small, strict argv parser: positional arguments, `--flag`, `--name value` and `--name=value`.
 * Unknown options are errors, so typos never pass silently.
 */

/** Declares the options a command accepts: true = takes a value, false = boolean flag. */
export type OptionSpec = Readonly<Record<string, boolean>>;

/** Parsed arguments. */
export interface ParsedArgs {
  /** Positional arguments in order. */
  positionals: string[];
  /** Option values by name; boolean flags are 'true'. */
  options: Map<string, string>;
}

/** Thrown for invalid command lines; the CLI prints it with the usage and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Parses argv against a spec. */
export function parseArgs(argv: readonly string[], spec: OptionSpec): ParsedArgs {
  const positionals: string[] = [];
  const options = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (!(name in spec)) {
      throw new UsageError(`Unknown option '--${name}'.`);
    }
    if (spec[name]) {
      const value = eq !== -1 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) {
        throw new UsageError(`Option '--${name}' needs a value.`);
      }
      options.set(name, value);
    } else {
      if (eq !== -1) {
        throw new UsageError(`Option '--${name}' takes no value.`);
      }
      options.set(name, 'true');
    }
  }
  return { positionals, options };
}

/** Reads an option restricted to a set of values. */
export function choiceOption<T extends string>(args: ParsedArgs, name: string, choices: readonly T[], fallback: T): T {
  const v = args.options.get(name);
  if (v === undefined) {
    return fallback;
  }
  if (!(choices as readonly string[]).includes(v)) {
    throw new UsageError(`Option '--${name}' must be one of ${choices.join(', ')}; got '${v}'.`);
  }
  return v as T;
}

/** Reads a positive integer option. */
export function intOption(args: ParsedArgs, name: string, fallback: number, min = 1, max = 1_000_000): number {
  const v = args.options.get(name);
  if (v === undefined) {
    return fallback;
  }
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`Option '--${name}' must be an integer from ${min} to ${max}; got '${v}'.`);
  }
  return n;
}
