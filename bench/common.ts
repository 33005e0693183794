// Shared by the benchmarks: the machine facts every result carries, and writing bench/results/<name>.json.
import fs from 'node:fs';
import os from 'node:os';

/** Cores, load average (benchmarks here often run beside other work), Node version and time of the run. */
export function machine() {
  return {
    cores: os.availableParallelism(),
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
    node: process.version,
    date: new Date().toISOString(),
  };
}

/** Writes bench/results/<name>.json and prints the result as one JSON line. */
export function writeResult(name: string, result: object): void {
  fs.mkdirSync('bench/results', { recursive: true });
  fs.writeFileSync(`bench/results/${name}.json`, JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result));
}

/**
 * The run with the median rate (the lower middle one for an even count): this machine's speed drifts 10-20%
 * over minutes, so benchmarks repeat a measurement and report that run with every run's rate beside it.
 */
export function medianRun<T>(runs: readonly T[], rate: (run: T) => number): T {
  const sorted = [...runs].sort((a, b) => rate(a) - rate(b));
  return sorted[(sorted.length - 1) >> 1];
}
