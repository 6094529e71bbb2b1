/**
 * A small, strict argv parser: positional arguments, `--flag`, `--name value` and `--name=value`.
 * Unknown options, a value option followed by another option instead of its value, and a
 * single-value option given twice are errors, so typos never pass silently. A value that starts
 * with '--' is given as `--name=--value`.
 */

/** Declares the options a command accepts: true = takes a value, 'repeat' = takes a value and may be given several times, false = boolean flag. */
export type OptionSpec = Readonly<Record<string, boolean | 'repeat'>>;

/** Parsed arguments. */
export interface ParsedArgs {
  /** Positional arguments in order. */
  positionals: string[];
  /** Option values by name (a repeatable option: its first value); boolean flags are 'true'. */
  options: Map<string, string>;
  /** Every value of each repeatable option given, in order. */
  repeated: Map<string, string[]>;
}

/** True when argv asks for help (`-h` or `--help` anywhere before a `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '-h' || a === '--help');
}

/** Highest `--workers` count any command accepts. */
export const maxWorkers = 64;

/** The number a plain decimal integer text (digits only) stands for, else undefined ('0x10', '1e1', '1.0', '' are not). */
export function decimalInteger(text: string | undefined): number | undefined {
  return text !== undefined && /^[0-9]+$/.test(text) ? Number(text) : undefined;
}

/** Thrown for invalid command lines; the CLI prints it with a pointer to the command's help and exits 2. */
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
  const repeated = new Map<string, string[]>();
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
      if (value === undefined || (eq === -1 && value.startsWith('--'))) {
        throw new UsageError(`Option '--${name}' needs a value.`);
      }
      if (spec[name] === 'repeat') {
        repeated.set(name, [...(repeated.get(name) ?? []), value]);
      } else if (options.has(name)) {
        throw new UsageError(`Option '--${name}' is given more than once.`);
      }
      if (!options.has(name)) {
        options.set(name, value);
      }
    } else {
      if (eq !== -1) {
        throw new UsageError(`Option '--${name}' takes no value.`);
      }
      options.set(name, 'true');
    }
  }
  return { positionals, options, repeated };
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

/** Reads an integer option written in plain decimal digits. */
export function intOption(args: ParsedArgs, name: string, fallback: number, min = 1, max = 1_000_000): number {
  const v = args.options.get(name);
  if (v === undefined) {
    return fallback;
  }
  const n = decimalInteger(v);
  if (n === undefined || n < min || n > max) {
    throw new UsageError(`Option '--${name}' must be an integer from ${min} to ${max}; got '${v}'.`);
  }
  return n;
}

/** Reads `--workers N` (0 = no worker threads), undefined when not given. */
export function workersOption(args: ParsedArgs): number | undefined {
  return args.options.has('workers') ? intOption(args, 'workers', 0, 0, maxWorkers) : undefined;
}
