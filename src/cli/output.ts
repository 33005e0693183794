/** Writes a command result: JSON for machines with --json, a short text for people otherwise. */
export function emit(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : human() + '\n');
}

/** A progress line on stderr for people; silent for --json so stdout stays machine-readable. */
export function progressPrinter(
  enabled: boolean,
): (done: number, total: number, phase: string, eta: number | null) => void {
  let last = 0;
  return (done, total, phase, eta) => {
    if (!enabled || !process.stderr.isTTY) return;
    const t = Date.now();
    if (t - last < 200 && done !== total) return;
    last = t;
    const pct = total > 0 ? Math.floor((100 * done) / total) : 0;
    const etaText = eta != null ? ` ETA ${Math.ceil(eta)}s` : '';
    process.stderr.write(`\r${phase}: ${done}/${total} (${pct}%)${etaText}    `);
    if (done === total) process.stderr.write('\n');
  };
}
