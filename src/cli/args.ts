import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Strict option parsing: an unknown flag is a usage error naming the flag, never silently ignored. */
export function parseCommand<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({
      args: argv,
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
}

export function requireString(value: unknown, flag: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new UsageError(`missing required option ${flag}`);
  return value;
}

export function parseIds(value: string, flag: string): number[] {
  const ids = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (ids.length === 0 || ids.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new UsageError(`${flag} takes comma-separated positive cell ids, e.g. ${flag} 1,2,3`);
  }
  return ids;
}

export function parsePositiveInt(value: unknown, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`${flag} must be a positive integer, got "${String(value)}"`);
  return n;
}
