import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, tempDir } from '../helpers/data';
import { umapLayout } from '../../src/main/engine/map/umap';
import { clusteredEmbeddings } from '../../src/main/engine/map/synthetic';

/**
 * The layout workers run from source text (the kernel's own Function.toString), so they must survive
 * minification and bundling. This bundles a small map job the way the app's build does (one minified file,
 * native modules external), runs it in a plain Node process, and runs the same source under tsx (the CLI and
 * benchmarks), checking that both used worker threads and produced exactly the layout computed here under
 * vitest.
 */
const JOB = { n: 1200, dims: 48, classes: 6, dataSeed: 11, seed: 3, epochs: 200 };

describe('map engine in a bundled build and under tsx', () => {
  const temp = tempDir('reddino-map-bundle-');
  afterAll(() => temp.cleanup());

  it('runs its layout workers from a minified bundle and under tsx with the same result', async () => {
    const entry = path.join(temp.dir, 'entry.mts');
    const engine = path.join(PROJECT_ROOT, 'src/main/engine/map');
    fs.writeFileSync(
      entry,
      `import fs from 'node:fs';
import { umapLayout } from ${JSON.stringify(path.join(engine, 'umap'))};
import { clusteredEmbeddings } from ${JSON.stringify(path.join(engine, 'synthetic'))};
const job = ${JSON.stringify(JOB)};
function threads(): number {
  try {
    return Number(/Threads:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? -1);
  } catch {
    return -1;
  }
}
async function main(): Promise<void> {
  const data = clusteredEmbeddings(job.n, job.dims, job.classes, { seed: job.dataSeed });
  let before = -1;
  let during = -1;
  const layout = await umapLayout(data.vectors, job.n, job.dims, {
    seed: job.seed, epochs: job.epochs, threads: 2,
    onProgress: (done, _total, phase) => {
      if (phase === 'fuzzy graph') before = threads();
      if (phase === 'layout' && done === 10) during = threads();
    },
  });
  process.stdout.write(JSON.stringify({ layout: Array.from(layout), before, during }));
}
void main();
`,
    );
    const outfile = path.join(temp.dir, 'map-job.cjs');
    await build({
      entryPoints: [entry],
      bundle: true,
      minify: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      outfile,
      external: ['usearch'],
      logLevel: 'silent',
    });
    const output = execFileSync(process.execPath, [outfile], {
      env: { ...process.env, NODE_PATH: path.join(PROJECT_ROOT, 'node_modules') },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const bundled = JSON.parse(output) as { layout: number[]; before: number; during: number };
    const underTsx = JSON.parse(
      execFileSync(process.execPath, [path.join(PROJECT_ROOT, 'bin/run-ts.mjs'), entry], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      }),
    ) as { layout: number[]; before: number; during: number };

    const data = clusteredEmbeddings(JOB.n, JOB.dims, JOB.classes, { seed: JOB.dataSeed });
    const here = await umapLayout(data.vectors, JOB.n, JOB.dims, {
      seed: JOB.seed,
      epochs: JOB.epochs,
      threads: 2,
    });
    expect(Float32Array.from(bundled.layout)).toEqual(here);
    expect(Float32Array.from(underTsx.layout)).toEqual(here);
    if (process.platform === 'linux') {
      expect(bundled.during).toBeGreaterThanOrEqual(bundled.before + 2);
      expect(underTsx.during).toBeGreaterThanOrEqual(underTsx.before + 2);
    }
  });
});
