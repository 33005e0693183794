import { afterAll, describe, expect, it } from 'vitest';
import { VectorIndex } from '../../src/main/engine/search/vector-index';
import { assembleDotKernel } from '../../src/main/engine/search/dot-kernel';

/** Deterministic clustered vectors: a few random centres plus noise, like cell embeddings of a few classes. */
function clustered(n: number, dims: number, clusters: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const rand = (): number => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const gauss = (): number => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const centres = Float32Array.from({ length: clusters * dims }, gauss);
  const out = new Float32Array(n * dims);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rand() * clusters);
    for (let j = 0; j < dims; j++) out[i * dims + j] = centres[c * dims + j] + 0.8 * gauss();
  }
  return out;
}

function bruteForce(
  data: Float32Array,
  ids: number[],
  query: Float32Array,
  dims: number,
  k: number,
): number[] {
  const norm = (v: Float32Array, o: number): number => {
    let s = 0;
    for (let j = 0; j < dims; j++) s += v[o + j] * v[o + j];
    return Math.sqrt(s);
  };
  const qn = norm(query, 0);
  const scored = ids.map((id, i) => {
    let s = 0;
    for (let j = 0; j < dims; j++) s += data[i * dims + j] * query[j];
    return { id, score: s / (norm(data, i * dims) * qn) };
  });
  scored.sort((a, b) => b.score - a.score);
  return scored.slice(0, k).map((x) => x.id);
}

const indexes: VectorIndex[] = [];
afterAll(async () => {
  await Promise.all(indexes.map((index) => index.close()));
});

describe('dot kernel', () => {
  it('assembles a valid wasm module', () => {
    expect(WebAssembly.validate(assembleDotKernel())).toBe(true);
  });
});

describe('VectorIndex', () => {
  const dims = 40; // not a multiple of 16: exercises row padding
  const n = 6000;
  const data = clustered(n, dims, 12, 7);
  const ids = Array.from({ length: n }, (_, i) => 1000 + i * 3);
  const queries = clustered(8, dims, 12, 99);

  it('matches brute-force cosine top-k on the calling thread (float32 path)', () => {
    const index = new VectorIndex(dims, { workers: 2 });
    indexes.push(index);
    index.add(ids, data);
    expect(index.size).toBe(n);
    for (let q = 0; q < 8; q++) {
      const query = queries.subarray(q * dims, (q + 1) * dims);
      const got = index.searchSync(query, 10);
      expect(Array.from(got.ids)).toEqual(bruteForce(data, ids, query, dims, 10));
      for (let j = 1; j < got.scores.length; j++)
        expect(got.scores[j]).toBeLessThanOrEqual(got.scores[j - 1]);
    }
  });

  it('int8 scan in worker threads then float32 rescoring returns the exact top-k', async () => {
    const index = new VectorIndex(dims, { workers: 2, workerThreshold: 1000 });
    indexes.push(index);
    index.add(ids, data);
    const batch = await index.searchMany(queries, 10);
    let agree = 0;
    for (let q = 0; q < 8; q++) {
      const query = queries.subarray(q * dims, (q + 1) * dims);
      const truth = bruteForce(data, ids, query, dims, 10);
      const got = Array.from(batch.ids.subarray(q * 10, (q + 1) * 10));
      agree += got.filter((id) => truth.includes(id)).length;
    }
    expect(agree).toBe(80);
    // Concurrent searches share the pool's query area: each must still get its own answer.
    const concurrent = await Promise.all(
      Array.from({ length: 8 }, (_, q) => index.search(queries.subarray(q * dims, (q + 1) * dims), 10)),
    );
    concurrent.forEach((r, q) =>
      expect(Array.from(r.ids)).toEqual(Array.from(batch.ids.subarray(q * 10, (q + 1) * 10))),
    );
    const fp32 = await index.search(queries.subarray(0, dims), 10, { precision: 'fp32' });
    expect(Array.from(fp32.ids)).toEqual(bruteForce(data, ids, queries.subarray(0, dims), dims, 10));
  });

  it('keeps ids right through removal, replacement and exclusion', async () => {
    const index = new VectorIndex(dims, { workers: 2, workerThreshold: 1000 });
    indexes.push(index);
    index.add(ids, data);
    const query = data.subarray(0, dims);
    const before = await index.search(query, 5);
    expect(before.ids[0]).toBe(ids[0]);
    expect(before.scores[0]).toBeCloseTo(1, 5);
    index.remove([ids[0], ids[1], ids[2]]);
    expect(index.size).toBe(n - 3);
    expect(index.has(ids[0])).toBe(false);
    const keptIds = ids.slice(3);
    const after = await index.search(query, 5);
    expect(Array.from(after.ids)).toEqual(bruteForce(data.subarray(3 * dims), keptIds, query, dims, 5));
    // Replacing a vector moves the cell in the ranking.
    const last = ids[n - 1];
    index.add([last], Float32Array.from(query));
    const replaced = await index.search(query, 1);
    expect(replaced.ids[0]).toBe(last);
    const excluded = await index.search(query, 3, { exclude: new Set([last]) });
    expect(Array.from(excluded.ids)).not.toContain(last);
    expect(excluded.ids.length).toBe(3);
    expect(
      Array.from(index.vector(last)!).every((v, j) => Math.abs(v - query[j] / Math.hypot(...query)) < 1e-6),
    ).toBe(true);
  });

  it('ANN (usearch HNSW) stays in step with adds and removes', async () => {
    const index = new VectorIndex(dims, {
      workers: 2,
      annThreshold: 100,
      annExpansionSearch: 256,
      annKind: 'hnsw',
    });
    indexes.push(index);
    index.add(ids.slice(0, 3000), data.subarray(0, 3000 * dims));
    await index.buildAnn({ batchSize: 1000 });
    expect(index.annReady).toBe(true);
    index.add(ids.slice(3000), data.subarray(3000 * dims));
    index.remove([ids[5000]]);
    const keptIds = ids.filter((_, i) => i !== 5000);
    const keptData = new Float32Array((n - 1) * dims);
    keptData.set(data.subarray(0, 5000 * dims));
    keptData.set(data.subarray(5001 * dims), 5000 * dims);
    let agree = 0;
    for (let q = 0; q < 8; q++) {
      const query = queries.subarray(q * dims, (q + 1) * dims);
      const got = Array.from((await index.search(query, 10)).ids);
      const truth = bruteForce(keptData, keptIds, query, dims, 10);
      agree += got.filter((id) => truth.includes(id)).length;
    }
    expect(agree / 80).toBeGreaterThanOrEqual(0.95);
    const self = await index.search(data.subarray(5000 * dims, 5001 * dims), 3);
    expect(Array.from(self.ids)).not.toContain(ids[5000]);
  });

  it('ANN (IVF over int8 codes) finds the exact top-k, sees cells added after the build, drops removed ones', async () => {
    const index = new VectorIndex(dims, { workers: 2, annThreshold: 100, annPendingLimit: 3000 });
    indexes.push(index);
    index.add(ids.slice(0, 3000), data.subarray(0, 3000 * dims));
    const phases = new Set<string>();
    await index.buildAnn({ onProgress: (_d, _t, phase) => phases.add(phase) });
    expect(phases).toEqual(new Set(['ann']));
    expect(index.annReady).toBe(true);
    // Before any change: the IVF answers (not the exact scan) and agrees with brute force.
    let agree = 0;
    for (let q = 0; q < 8; q++) {
      const query = queries.subarray(q * dims, (q + 1) * dims);
      const got = Array.from((await index.search(query, 10)).ids);
      const truth = bruteForce(data.subarray(0, 3000 * dims), ids.slice(0, 3000), query, dims, 10);
      agree += got.filter((id) => truth.includes(id)).length;
    }
    expect(agree / 80).toBeGreaterThanOrEqual(0.95);
    // 3000 cells added after the build (pending, scanned exactly) and one removed.
    index.add(ids.slice(3000), data.subarray(3000 * dims));
    index.remove([ids[10]]);
    expect(index.annReady).toBe(true);
    const keptIds = ids.filter((_, i) => i !== 10);
    const keptData = new Float32Array((n - 1) * dims);
    keptData.set(data.subarray(0, 10 * dims));
    keptData.set(data.subarray(11 * dims), 10 * dims);
    agree = 0;
    for (let q = 0; q < 8; q++) {
      const query = queries.subarray(q * dims, (q + 1) * dims);
      const got = Array.from((await index.search(query, 10)).ids);
      const truth = bruteForce(keptData, keptIds, query, dims, 10);
      agree += got.filter((id) => truth.includes(id)).length;
    }
    expect(agree / 80).toBeGreaterThanOrEqual(0.95);
    const late = await index.search(data.subarray(4000 * dims, 4001 * dims), 1);
    expect(late.ids[0]).toBe(ids[4000]);
    const gone = await index.search(data.subarray(10 * dims, 11 * dims), 3);
    expect(Array.from(gone.ids)).not.toContain(ids[10]);
    // Past the pending limit the ANN is no longer ready (searches fall back to the exact scan until a rebuild).
    index.add([999_999], data.subarray(0, dims));
    expect(index.annReady).toBe(false);
    await index.buildAnn();
    expect(index.annReady).toBe(true);
    expect((await index.search(data.subarray(4000 * dims, 4001 * dims), 1)).ids[0]).toBe(ids[4000]);
  });

  it.each([3, 9])('linear scores in workers match a direct softmax (%i classes)', async (classes) => {
    const index = new VectorIndex(dims, { workers: 2 });
    indexes.push(index);
    index.add(ids.slice(0, 500), data.subarray(0, 500 * dims));
    // 9 classes: two passes of the four-row kernel plus one row of the plain one.
    const weights = clustered(classes, dims, 3, 5);
    const bias = Float32Array.from({ length: classes }, (_, c) => 0.1 - 0.05 * c);
    const result = await index.linearPredict(weights, bias);
    const stored = index.vectors(result.ids);
    for (let i = 0; i < 500; i += 37) {
      const logits = Array.from({ length: classes }, (_, c) => {
        let s = bias[c];
        for (let j = 0; j < dims; j++) s += weights[c * dims + j] * stored[i * dims + j];
        return s;
      });
      const max = Math.max(...logits);
      const exp = logits.map((v) => Math.exp(v - max));
      const sum = exp.reduce((a, b) => a + b, 0);
      const probs = exp.map((v) => v / sum);
      const best = probs.indexOf(Math.max(...probs));
      const second = Math.max(...probs.filter((_, c) => c !== best));
      expect(result.predicted[i]).toBe(best);
      expect(result.probability[i]).toBeCloseTo(probs[best], 4);
      expect(result.margin[i]).toBeCloseTo(probs[best] - second, 4);
      const entropy = -probs.reduce((h, p) => h + (p > 0 ? p * Math.log(p) : 0), 0);
      expect(result.entropy[i]).toBeCloseTo(entropy, 4);
    }
  });
});
