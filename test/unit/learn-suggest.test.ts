import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataPath } from '../helpers/data';
import {
  applyStandardizer,
  fitStandardizer,
  morphologyFeatures,
  MORPHOLOGY_DIMS,
} from '../../src/main/engine/embed/morphology';
import { VectorIndex } from '../../src/main/engine/search/vector-index';
import { predictAll, type CellPredictions } from '../../src/main/engine/learn/predict';
import { suggest, type SuggestionContext } from '../../src/main/engine/learn/suggest';
import { propagationPreview } from '../../src/main/engine/learn/propagate';
import { groupSplit, leaveOneGroupOut } from '../../src/main/engine/learn/evaluate';

/** Real NIH malaria crops (fixture): class 0 = uninfected, 1 = parasitized; group = slide code C<n>. */
const CLASS_NAMES = ['uninfected', 'parasitized'];
const cells: { id: number; label: number; slide: string }[] = [];
let index: VectorIndex;
let truth: Map<number, number>;

beforeAll(async () => {
  const features: Float32Array[] = [];
  for (const [label, folder] of CLASS_NAMES.entries()) {
    const dir = dataPath('fixture', 'nih_cells', folder);
    for (const file of fs.readdirSync(dir).sort()) {
      const { data, info } = await sharp(path.join(dir, file))
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      features.push(
        morphologyFeatures({ rgb: new Uint8Array(data), width: info.width, height: info.height }),
      );
      cells.push({ id: 100 + cells.length * 7, label, slide: file.match(/^C\d+/)?.[0] ?? file });
    }
  }
  const n = features.length;
  const raw = new Float32Array(n * MORPHOLOGY_DIMS);
  features.forEach((f, i) => raw.set(f, i * MORPHOLOGY_DIMS));
  const x = applyStandardizer(raw, n, MORPHOLOGY_DIMS, fitStandardizer(raw, n, MORPHOLOGY_DIMS));
  index = new VectorIndex(MORPHOLOGY_DIMS, { workers: 2 });
  index.add(
    cells.map((c) => c.id),
    x,
  );
  truth = new Map(cells.map((c) => [c.id, c.label]));
});

afterAll(async () => {
  await index.close();
});

/** Every 10th cell of each class labeled. */
function initialLabels(): Map<number, number> {
  const labels = new Map<number, number>();
  cells.forEach((c, i) => {
    if (i % 10 === 0) labels.set(c.id, c.label);
  });
  return labels;
}

function accuracyOnUnlabeled(p: CellPredictions, labels: Map<number, number>): number {
  let right = 0;
  let total = 0;
  p.ids.forEach((id, i) => {
    if (labels.has(id)) return;
    total++;
    if (p.predicted[i] === truth.get(id)) right++;
  });
  return right / total;
}

describe('predictAll on real NIH cells with morphology features', () => {
  it.each(['linear', 'knn'] as const)(
    '%s: a class and confidence for every cell, better than chance',
    async (method) => {
      const labels = initialLabels();
      expect(new Set(labels.values()).size).toBe(2);
      const p = await predictAll(
        index,
        { ids: [...labels.keys()], labels: [...labels.values()] },
        { method },
      );
      expect(p.ids.length).toBe(cells.length);
      expect(p.predicted.every((c) => c === 0 || c === 1)).toBe(true);
      for (let i = 0; i < p.ids.length; i++) {
        expect(p.probability[i]).toBeGreaterThanOrEqual(0.5 - 1e-6);
        expect(p.margin[i]).toBeCloseTo(2 * p.probability[i] - 1, 4);
        expect(p.runnerUp[i]).toBe(1 - p.predicted[i]);
      }
      expect(accuracyOnUnlabeled(p, labels)).toBeGreaterThan(0.65);
    },
  );

  it('with no labels predicts nothing', async () => {
    const p = await predictAll(index, { ids: [], labels: [] });
    expect(p.predicted.every((c) => c === -1)).toBe(true);
  });
});

describe('suggestions', () => {
  let context: SuggestionContext;
  beforeAll(async () => {
    const labels = initialLabels();
    const predictions = await predictAll(index, { ids: [...labels.keys()], labels: [...labels.values()] });
    context = { index, labels, predictions, className: (c) => CLASS_NAMES[c] };
  });

  it('margin: least certain unlabeled cells first, with a readable reason', async () => {
    const picks = await suggest(context, { strategy: 'margin', count: 8 });
    expect(picks).toHaveLength(8);
    const p = context.predictions!;
    const rowOf = new Map(Array.from(p.ids, (id, i) => [id, i]));
    const margins = picks.map((s) => p.margin[rowOf.get(s.cellId)!]);
    expect([...margins].sort((a, b) => a - b)).toEqual(margins);
    const unlabeledMargins = Array.from(p.ids)
      .map((id, i) => (context.labels.has(id) ? Infinity : p.margin[i]))
      .sort((a, b) => a - b);
    expect(margins[7]).toBeLessThanOrEqual(unlabeledMargins[7] + 1e-9);
    for (const s of picks) {
      expect(context.labels.has(s.cellId)).toBe(false);
      expect(s.reason).toMatch(
        /^uncertain: 0\.\d\d (uninfected|parasitized) vs 0\.\d\d (uninfected|parasitized)$/,
      );
    }
  });

  it('mix: distinct unlabeled cells, more spread out than the pure margin batch', async () => {
    const mix = await suggest(context, { count: 10 });
    const margin = await suggest(context, { strategy: 'margin', count: 10 });
    expect(new Set(mix.map((s) => s.cellId)).size).toBe(10);
    expect(mix.every((s) => !context.labels.has(s.cellId) && s.strategy === 'mix')).toBe(true);
    const meanPairSimilarity = (ids: number[]): number => {
      const v = index.vectors(ids);
      let sum = 0;
      let pairs = 0;
      for (let a = 0; a < ids.length; a++) {
        for (let b = a + 1; b < ids.length; b++) {
          let s = 0;
          for (let j = 0; j < MORPHOLOGY_DIMS; j++)
            s += v[a * MORPHOLOGY_DIMS + j] * v[b * MORPHOLOGY_DIMS + j];
          sum += s;
          pairs++;
        }
      }
      return sum / pairs;
    };
    expect(meanPairSimilarity(mix.map((s) => s.cellId))).toBeLessThan(
      meanPairSimilarity(margin.map((s) => s.cellId)),
    );
  });

  it('mix: picks come from the poolSize least certain cells; a pool barely over the batch still fills it', async () => {
    const p = context.predictions!;
    const unlabeledByMargin = Array.from(p.ids)
      .filter((id) => !context.labels.has(id))
      .sort((a, b) => {
        const ma = p.margin[Array.from(p.ids).indexOf(a)];
        const mb = p.margin[Array.from(p.ids).indexOf(b)];
        return ma - mb || a - b;
      });
    for (const [count, poolSize] of [
      [8, 40],
      [10, 11],
      [6, 6],
    ]) {
      const picks = await suggest(context, { count, poolSize, seed: 3 });
      expect(picks).toHaveLength(count);
      expect(new Set(picks.map((s) => s.cellId)).size).toBe(count);
      const pool = new Set(unlabeledByMargin.slice(0, poolSize));
      expect(picks.every((s) => pool.has(s.cellId) && s.reason.startsWith('uncertain: '))).toBe(true);
    }
  });

  it('mix: duplicate cells leave k-means clusters empty; the batch is still filled with distinct cells', async () => {
    // Four real cells, each present three times, and one labeled cell of each class: 4 distinct candidates for 6.
    const dup = new VectorIndex(MORPHOLOGY_DIMS, { workers: 1 });
    const source = [cells[1], cells[2], cells[3], cells[4]];
    const ids: number[] = [];
    const vectors: Float32Array[] = [];
    source.forEach((c, i) => {
      for (let r = 0; r < 3; r++) {
        ids.push(1 + i * 3 + r);
        vectors.push(index.vectors([c.id]));
      }
    });
    const labeledCells = [cells.find((c) => c.label === 0)!, cells.find((c) => c.label === 1)!];
    labeledCells.forEach((c, i) => {
      ids.push(50 + i);
      vectors.push(index.vectors([c.id]));
    });
    const all = new Float32Array(ids.length * MORPHOLOGY_DIMS);
    vectors.forEach((v, i) => all.set(v, i * MORPHOLOGY_DIMS));
    dup.add(ids, all);
    const labels = new Map([
      [50, 0],
      [51, 1],
    ]);
    const predictions = await predictAll(dup, { ids: [50, 51], labels: [0, 1] });
    const picks = await suggest({ index: dup, labels, predictions }, { count: 6 });
    expect(picks).toHaveLength(6);
    expect(new Set(picks.map((s) => s.cellId)).size).toBe(6);
    expect(picks.every((s) => s.cellId >= 1 && s.cellId <= 12)).toBe(true);
    // The first four picks are one copy of each distinct cell.
    expect(new Set(picks.slice(0, 4).map((s) => Math.floor((s.cellId - 1) / 3))).size).toBe(4);
    await dup.close();
  });

  it('diversity: picks are farther from the labeled cells than typical cells', async () => {
    const picks = await suggest(context, { strategy: 'diversity', count: 5 });
    const labeledIds = [...context.labels.keys()];
    const labeled = new VectorIndex(MORPHOLOGY_DIMS, { workers: 1 });
    labeled.add(labeledIds, index.vectors(labeledIds));
    const nearestSimilarity = (ids: number[]): number => {
      const r = labeled.searchManySync(index.vectors(ids), 1);
      return Array.from(r.scores).reduce((a, b) => a + b, 0) / ids.length;
    };
    const others = Array.from(index.ids()).filter((id) => !context.labels.has(id));
    expect(nearestSimilarity(picks.map((s) => s.cellId))).toBeLessThan(nearestSimilarity(others));
    await labeled.close();
  });

  it('class: hunting parasitized cells finds mostly parasitized cells', async () => {
    const picks = await suggest(context, { strategy: 'class', classId: 1, count: 10 });
    expect(picks).toHaveLength(10);
    expect(picks[0].reason).toMatch(/^near labeled parasitized cell \d+ \(similarity [01]\.\d\d\)$/);
    const hits = picks.filter((s) => truth.get(s.cellId) === 1).length;
    expect(hits).toBeGreaterThanOrEqual(6);
  });

  it('similar: neighbours of seeds, seeds and labeled cells excluded, most similar first', async () => {
    const seeds = [cells[3].id, cells[4].id];
    const picks = await suggest(context, { strategy: 'similar', seedIds: seeds, count: 6 });
    expect(picks).toHaveLength(6);
    for (const s of picks) {
      expect(seeds).not.toContain(s.cellId);
      expect(context.labels.has(s.cellId)).toBe(false);
    }
    const sims = picks.map((s) => Number(/similarity (-?\d\.\d\d)/.exec(s.reason)![1]));
    expect([...sims].sort((a, b) => b - a)).toEqual(sims);
  });

  it('coldstart: with nothing labeled, representatives of distinct groups covering both classes', async () => {
    const picks = await suggest({ index, labels: new Map() }, { count: 10 });
    expect(picks).toHaveLength(10);
    expect(new Set(picks.map((s) => s.cellId)).size).toBe(10);
    expect(picks.every((s) => s.strategy === 'mix' && s.reason.startsWith('cold start'))).toBe(true);
    expect(new Set(picks.map((s) => truth.get(s.cellId))).size).toBe(2);
  });
});

describe('propagationPreview', () => {
  it('returns unlabeled neighbours above the threshold, once each, with their seed', async () => {
    const labels = initialLabels();
    const seeds = [cells[15].id, cells[120].id];
    const loose = await propagationPreview(index, seeds, { k: 15, minSimilarity: 0.3, labeled: labels });
    const strict = await propagationPreview(index, seeds, { k: 15, minSimilarity: 0.8, labeled: labels });
    expect(loose.length).toBeGreaterThan(0);
    expect(strict.length).toBeLessThanOrEqual(loose.length);
    expect(new Set(loose.map((c) => c.cellId)).size).toBe(loose.length);
    for (const c of loose) {
      expect(c.similarity).toBeGreaterThanOrEqual(0.3);
      expect(seeds).toContain(c.fromCellId);
      expect(seeds).not.toContain(c.cellId);
      expect(labels.has(c.cellId)).toBe(false);
    }
    for (let i = 1; i < loose.length; i++)
      expect(loose[i].similarity).toBeLessThanOrEqual(loose[i - 1].similarity);
  });
});

describe('groupSplit', () => {
  it('never puts a slide on both sides', () => {
    const groups = cells.map((c) => c.slide);
    const split = groupSplit(groups, { testFraction: 0.3, seed: 3 });
    const trainSlides = new Set(Array.from(split.train, (i) => groups[i]));
    const testSlides = new Set(Array.from(split.test, (i) => groups[i]));
    expect([...testSlides].some((g) => trainSlides.has(g))).toBe(false);
    expect(split.train.length + split.test.length).toBe(cells.length);
    expect(split.test.length).toBeGreaterThan(0);
    const chosen = groupSplit(groups, { testGroups: [groups[0]] });
    expect(Array.from(chosen.test).every((i) => groups[i] === groups[0])).toBe(true);
    expect(leaveOneGroupOut(groups)).toHaveLength(new Set(groups).size);
  });
});
