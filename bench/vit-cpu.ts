/**
 * ViT-S/14 (RedDino-small shape: 384 dims, 12 blocks, 6 heads, 224 px) on the CPU: onnxruntime fp32 and
 * int8 graphs built by the app vs PyTorch eager, same random weights, same real cell crops.
 *
 *   node bin/run-ts.mjs bench/vit-cpu.ts
 *   env: VIT_BENCH_SECONDS per measurement (default 10), VIT_BENCH_ROUNDS (default 3)
 *
 * Weights are generated into .cache/vit-s by scripts/make_vit_fixture.py (86 MB, not committed).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildVitOnnx, IMAGENET_MEAN, IMAGENET_STD } from '../src/main/engine/embed/vit/build';
import { decodeRgb, preprocessCellCrops, type CellBox } from '../src/main/engine/embed/vit/preprocess';
import { openVitSession, type VitSessionOptions } from '../src/main/engine/embed/vit/session';
import { readNpyFloat32, writeNpyFloat32 } from '../src/main/engine/io/npy';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const DATA = path.resolve(ROOT, '../shared/data/fixture');
const CACHE = path.join(ROOT, '.cache/vit-s');
const PYTHON = '/usr/bin/python3';
const SECONDS = Number(process.env.VIT_BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.VIT_BENCH_ROUNDS ?? 3);
// torch picks libblas.so.3 at load time; the OpenMP build of OpenBLAS matches torch's own OpenMP pool.
const OPENBLAS_OPENMP = '/usr/lib/x86_64-linux-gnu/openblas-openmp';
const BATCH = 8;
const THREADS = 2;
const GFLOP_PER_IMAGE = 12.25; // ViT-S/14 at 224 px, 257 tokens, multiply-add = 2 FLOP
const SIZE = 224;
const PER = 3 * SIZE * SIZE;

const load = () => os.loadavg().map((v) => Math.round(v * 100) / 100);

async function realCrops(): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  const whole = async (file: string) => {
    const img = await decodeRgb(file);
    return preprocessCellCrops(
      img,
      [{ x: 0, y: 0, width: img.width, height: img.height }],
      SIZE,
      IMAGENET_MEAN,
      IMAGENET_STD,
      {
        contextFactor: 1,
      },
    );
  };
  for (const dir of [
    'nih_cells/parasitized',
    'nih_cells/uninfected',
    'mpidb_pf_crops/ring',
    'mpidb_pf_crops/trophozoite',
  ]) {
    for (const f of fs.readdirSync(path.join(DATA, dir)).sort().slice(0, 3))
      parts.push(await whole(path.join(DATA, dir, f)));
  }
  // Cells of a Chula smear field around their annotated centres.
  const field = await decodeRgb(path.join(DATA, 'chula_fields/2.jpg'));
  const boxes: CellBox[] = fs
    .readFileSync(path.join(DATA, 'chula_fields/2.txt'), 'utf8')
    .trim()
    .split('\n')
    .slice(0, 4)
    .map((line) => {
      const [x, y] = line.split(/\s+/).map(Number);
      return { x: x - 30, y: y - 30, width: 60, height: 60 };
    });
  parts.push(preprocessCellCrops(field, boxes, SIZE, IMAGENET_MEAN, IMAGENET_STD));
  const total = parts.reduce((s, p) => s + p.length, 0);
  const out = new Float32Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

interface TorchRun {
  images_per_s: number;
  images_per_cpu_s: number;
  peak_rss_mb: number;
  blas_libraries: string[];
  load?: number[];
}

function runTorch(inputsNpy: string, outNpy: string | null, threads = THREADS): TorchRun {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(threads) };
  if (fs.existsSync(OPENBLAS_OPENMP)) env.LD_LIBRARY_PATH = OPENBLAS_OPENMP;
  const args = [path.join(ROOT, 'scripts/torch_vit_bench.py'), CACHE, inputsNpy, outNpy ?? '-'];
  if (outNpy === null) args.push('--no-embed');
  args.push('--batch', String(BATCH), '--threads', String(threads), '--seconds', String(SECONDS));
  const run = JSON.parse(execFileSync(PYTHON, args, { encoding: 'utf8', env })) as TorchRun;
  return { ...run, load: load() };
}

interface Throughput {
  imagesPerSecond: number;
  /** Images per second of this process's CPU time (user + system), all threads together. */
  imagesPerCpuSecond: number;
  runs: number;
  load: number[];
}

async function measure(onnxPath: string, inputs: Float32Array, opts: VitSessionOptions = {}) {
  // Sessions run one at a time; the embeddings double as the parity check.
  const session = await openVitSession(onnxPath, { provider: 'cpu', threads: THREADS, ...opts });
  try {
    const n = inputs.length / PER;
    const all = new Float32Array(n * session.dims);
    for (let s = 0; s < n; s += BATCH) {
      const m = Math.min(BATCH, n - s);
      all.set(await session.embed(inputs.subarray(s * PER, (s + m) * PER), m), s * session.dims);
    }
    const batch = inputs.subarray(0, BATCH * PER);
    for (let i = 0; i < 2; i++) await session.embed(batch, BATCH);
    let runs = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    while (performance.now() - t0 < SECONDS * 1000 || runs < 3) {
      await session.embed(batch, BATCH);
      runs++;
    }
    const dt = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const throughput: Throughput = {
      imagesPerSecond: (runs * BATCH) / dt,
      imagesPerCpuSecond: (runs * BATCH) / ((cpu.user + cpu.system) / 1e6),
      runs,
      load: load(),
    };
    return { embeddings: all, dims: session.dims, throughput };
  } finally {
    await session.close();
  }
}

function compare(a: Float32Array, b: Float32Array, dims: number) {
  let maxAbs = 0;
  let minCos = 1;
  let sumCos = 0;
  const rows = a.length / dims;
  for (let r = 0; r < rows; r++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let d = r * dims; d < (r + 1) * dims; d++) {
      maxAbs = Math.max(maxAbs, Math.abs(a[d] - b[d]));
      ab += a[d] * b[d];
      aa += a[d] * a[d];
      bb += b[d] * b[d];
    }
    const cos = ab / Math.sqrt(aa * bb);
    minCos = Math.min(minCos, cos);
    sumCos += cos;
  }
  return { maxAbsError: maxAbs, minCosine: minCos, meanCosine: sumCos / rows };
}

interface FmaPeak {
  threads: number;
  gflops: number;
  gflopsPerCoreCpuSecond: number;
}

function fmaPeak(): FmaPeak {
  const exe = path.join(ROOT, '.cache/fma-peak');
  execFileSync('gcc', ['-O3', '-march=native', '-pthread', path.join(ROOT, 'bench/fma/peak.c'), '-o', exe]);
  return JSON.parse(execFileSync(exe, [String(THREADS), '2'], { encoding: 'utf8' })) as FmaPeak;
}

async function main() {
  const loadAtStart = load();
  if (!fs.existsSync(path.join(CACHE, 'model.safetensors'))) {
    execFileSync(PYTHON, [path.join(ROOT, 'scripts/make_vit_fixture.py'), 'vit-s', CACHE], {
      stdio: 'inherit',
    });
  }
  const fp32Path = path.join(CACHE, 'vit-s-fp32.onnx');
  const int8Path = path.join(CACHE, 'vit-s-int8.onnx');
  let t = performance.now();
  const fp32 = await buildVitOnnx({ checkpointDir: CACHE }, fp32Path);
  const buildSecondsFp32 = (performance.now() - t) / 1000;
  t = performance.now();
  await buildVitOnnx({ checkpointDir: CACHE }, int8Path, { quantize: 'int8' });
  const buildSecondsInt8 = (performance.now() - t) / 1000;

  const inputs = await realCrops();
  const n = inputs.length / PER;
  const inputsNpy = path.join(CACHE, 'inputs.npy');
  const torchNpy = path.join(CACHE, 'torch-cls.npy');
  writeNpyFloat32(inputsNpy, inputs, n, PER);

  // Rounds alternate the contenders so that load from other processes hits each of them alike; each
  // contender's best round is compared.
  const rounds: { ortFp32: Throughput; torch: TorchRun; ortInt8: Throughput }[] = [];
  let ortFp32Embeddings = new Float32Array(0);
  let ortInt8Embeddings = new Float32Array(0);
  for (let r = 0; r < ROUNDS; r++) {
    const f = await measure(fp32Path, inputs);
    ortFp32Embeddings = f.embeddings;
    const torchRun = runTorch(inputsNpy, r === 0 ? torchNpy : null);
    const q = await measure(int8Path, inputs);
    ortInt8Embeddings = q.embeddings;
    rounds.push({ ortFp32: f.throughput, torch: torchRun, ortInt8: q.throughput });
  }
  const best = (pick: (r: (typeof rounds)[number]) => number) => Math.max(...rounds.map(pick));
  const torchBest = best((r) => r.torch.images_per_s);
  const ortFp32Best = best((r) => r.ortFp32.imagesPerSecond);
  const ortInt8Best = best((r) => r.ortInt8.imagesPerSecond);
  // One thread, rated per CPU-second: on a shared machine this measures what one core does while it runs,
  // independent of how much of the core other processes take.
  const ortFp32Core = (await measure(fp32Path, inputs, { threads: 1 })).throughput;
  const torchCore = runTorch(inputsNpy, null, 1);
  const ortInt8Core = (await measure(int8Path, inputs, { threads: 1 })).throughput;
  const torchCls = readNpyFloat32(torchNpy);
  const peak = fmaPeak();

  const result = {
    benchmark: 'vit-cpu',
    date: new Date().toISOString(),
    cpu: `${os.cpus()[0]?.model} (${os.availableParallelism()} logical cores)`,
    model: {
      arch: fp32.arch,
      dims: fp32.dims,
      depth: fp32.architecture.depth,
      inputSize: fp32.inputSize,
      gflopPerImage: GFLOP_PER_IMAGE,
    },
    setup: {
      batch: BATCH,
      threads: THREADS,
      secondsPerMeasurement: SECONDS,
      rounds: ROUNDS,
      images: n,
      buildSecondsFp32,
      buildSecondsInt8,
    },
    parityFp32VsTorch: compare(ortFp32Embeddings, torchCls.data, fp32.dims),
    int8VsFp32: compare(ortInt8Embeddings, ortFp32Embeddings, fp32.dims),
    imagesPerSecond: { torchEager: torchBest, ortFp32: ortFp32Best, ortInt8: ortInt8Best },
    speedup: { ortFp32VsTorch: ortFp32Best / torchBest, ortInt8VsTorch: ortInt8Best / torchBest },
    fp32Peak: {
      fmaProbeGflops: peak.gflops,
      ortFp32Gflops: ortFp32Best * GFLOP_PER_IMAGE,
      fractionOfPeak: (ortFp32Best * GFLOP_PER_IMAGE) / peak.gflops,
    },
    perCoreCpuTime: {
      note: '1 thread, batch 8, images per CPU-second of the process; peak = FMA probe per thread CPU-second',
      fmaProbeGflopsPerCore: peak.gflopsPerCoreCpuSecond,
      imagesPerCpuSecond: {
        torchEager: torchCore.images_per_cpu_s,
        ortFp32: ortFp32Core.imagesPerCpuSecond,
        ortInt8: ortInt8Core.imagesPerCpuSecond,
      },
      speedup: {
        ortFp32VsTorch: ortFp32Core.imagesPerCpuSecond / torchCore.images_per_cpu_s,
        ortInt8VsTorch: ortInt8Core.imagesPerCpuSecond / torchCore.images_per_cpu_s,
      },
      ortFp32FractionOfPeak: (ortFp32Core.imagesPerCpuSecond * GFLOP_PER_IMAGE) / peak.gflopsPerCoreCpuSecond,
    },
    peakRssMb: {
      node: process.resourceUsage().maxRSS / 1024,
      torch: Math.max(...rounds.map((r) => r.torch.peak_rss_mb)),
    },
    loadAverage: { start: loadAtStart, end: load() },
    contended:
      loadAtStart[0] > os.availableParallelism()
        ? 'load average above the core count: wall-clock figures (and their ratios) reflect the share of CPU ' +
          'each process got, not its speed; compare perCoreCpuTime instead'
        : null,
    rounds,
  };
  const json = JSON.stringify(result, null, 2);
  fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench/results/vit-cpu.json'), `${json}\n`);
  console.log(json);
}

await main();
