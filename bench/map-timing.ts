import os from 'node:os';
import { umapLayout } from '../src/main/engine/map/umap';

/** Shared by the map benchmarks: per-phase wall and CPU time of umapLayout. */
export const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;
export const load = (): number[] => os.loadavg().map((x) => round(x));

export interface PhaseTiming {
  wallSeconds: number;
  cpuSeconds: number;
}

/** Runs umapLayout and records wall and CPU (all threads of the process) per progress phase. */
export async function timedLayout(
  vectors: Float32Array,
  rows: number,
  width: number,
  options: Parameters<typeof umapLayout>[3],
): Promise<{
  layout: Float32Array;
  phases: Record<string, PhaseTiming>;
  wallSeconds: number;
  cpuSeconds: number;
}> {
  const phases: Record<string, PhaseTiming> = {};
  let phase = '';
  let phaseWall = performance.now();
  let phaseCpu = process.cpuUsage();
  const close = (): void => {
    if (!phase) return;
    const cpu = process.cpuUsage(phaseCpu);
    const previous = phases[phase] ?? { wallSeconds: 0, cpuSeconds: 0 };
    phases[phase] = {
      wallSeconds: round(previous.wallSeconds + (performance.now() - phaseWall) / 1000),
      cpuSeconds: round(previous.cpuSeconds + (cpu.user + cpu.system) / 1e6),
    };
  };
  const startWall = performance.now();
  const startCpu = process.cpuUsage();
  const layout = await umapLayout(vectors, rows, width, {
    ...options,
    onProgress: (_done, _total, next) => {
      if (next === phase) return;
      close();
      phase = next;
      phaseWall = performance.now();
      phaseCpu = process.cpuUsage();
    },
  });
  close();
  const cpu = process.cpuUsage(startCpu);
  return {
    layout,
    phases,
    wallSeconds: round((performance.now() - startWall) / 1000),
    cpuSeconds: round((cpu.user + cpu.system) / 1e6),
  };
}
