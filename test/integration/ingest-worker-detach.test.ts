import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT, tempDir } from '../helpers/data';

// The ingest workers never detach an ArrayBuffer while they work (results are copied back, the JPEG kernel's
// memory never grows for ordinary thumbnails): a thread's first detach invalidates V8's ArrayBufferDetaching
// protector, after which its typed-array code runs 25-35% slower (segmentation, morphology features).
// V8 reports each invalidation (--trace-protector-invalidation); none may come while the warmed-up worker segments
// and re-embeds (module loading before that is tsx's and sharp's, and differs in the bundled app).
function invalidationsWhileWorking(args: string[]): { count: number; log: string } {
  const tmp = tempDir();
  try {
    const file = path.join(tmp.dir, 'log.txt');
    const fd = fs.openSync(file, 'w');
    // One file for stdout (V8's trace) and stderr (the markers), so their order is kept.
    const r = spawnSync(
      process.execPath,
      ['--trace-protector-invalidation', 'bin/run-ts.mjs', 'test/helpers/pool-detach.ts', ...args],
      { cwd: PROJECT_ROOT, stdio: ['ignore', fd, fd], timeout: 120_000 },
    );
    fs.closeSync(fd);
    const log = fs.readFileSync(file, 'utf8');
    if (r.status !== 0) throw new Error(`pool-detach.ts ${args.join(' ')} failed:\n${log}`);
    const working = log.slice(log.indexOf('--- ready'), log.indexOf('--- closing'));
    return { count: working.split('Invalidating protector cell ArrayBufferDetaching').length - 1, log };
  } finally {
    tmp.cleanup();
  }
}

describe('ingest worker and typed arrays', () => {
  it('segmenting fields and re-embedding them detaches no buffer in the worker', () => {
    const run = invalidationsWhileWorking(['3', '2']);
    expect(run.log).toMatch(
      /--- ready[\s\S]*--- field \d+ cells[\s\S]*--- embedded \d+ values[\s\S]*--- closing/,
    );
    expect(run.count).toBe(0);
  }, 180_000);
});
