import type { Engine } from '../engine';
import { evaluate, groupSplit, takeLabels, takeRows } from '../learn/evaluate';
import { applyStandardizer, fitStandardizer } from '../embed/morphology';
import { ApiError } from '../../../shared/api';
import { activeModelOf } from './vectors';

export interface ProjectEvaluation {
  model: string;
  protocol: 'knn' | 'linear';
  split: 'slide' | 'source';
  weightedF1: number;
  macroF1: number;
  balancedAccuracy: number;
  accuracy: number;
  perClass: Array<{ class: string; precision: number; recall: number; f1: number; support: number }>;
  classes: string[];
  confusion: number[][];
  train: { cells: number; groups: string[] };
  test: { cells: number; groups: string[] };
}

/**
 * Evaluation of the labeled cells as in the RedDino paper, split by slide or by source so no group is on both
 * sides. Morphology vectors are standardised with statistics of the training cells only.
 */
export async function evaluateProject(
  engine: Engine,
  opts: {
    protocol: 'knn' | 'linear';
    k: number;
    split: 'slide' | 'source';
    testGroups?: string[];
    modelId?: number;
    seed?: number;
  },
): Promise<ProjectEvaluation> {
  const store = engine.project;
  // The same model as predictions, suggestions and the map (the active one unless one is requested).
  const model = activeModelOf(store, opts.modelId);
  if (model.embeddedCells === 0)
    throw new ApiError('no-embeddings', 'No embedded cells to evaluate. Import and embed cells first.');
  const all = store.getEmbeddings(model.id);
  const labels = store.labelsFor(all.cellIds);
  const rows: number[] = [];
  labels.forEach((c, i) => {
    if (c >= 0) rows.push(i);
  });
  if (rows.length < 4) throw new ApiError('invalid', 'Evaluation needs at least a few labeled cells.');
  const imageOf = store.imageIdsFor(Int32Array.from(rows, (i) => all.cellIds[i]));
  const slides = new Map(store.listSlides().map((s) => [s.id, s]));
  const groups = Array.from(imageOf, (id) =>
    opts.split === 'slide'
      ? (slides.get(id)?.subject ?? `slide ${id}`)
      : (slides.get(id)?.source ?? 'unknown'),
  );
  if (new Set(groups).size < 2) {
    throw new ApiError(
      'invalid',
      `All labeled cells share one ${opts.split === 'slide' ? 'slide' : 'source'}; a ${opts.split}-disjoint split needs at least two.`,
    );
  }
  const split = groupSplit(groups, { testGroups: opts.testGroups, seed: opts.seed ?? 0 });
  if (split.train.length === 0 || split.test.length === 0)
    throw new ApiError('invalid', 'The split left no cells on one side.');
  const x = takeRows(all.vectors, all.dims, rows);
  const y = takeLabels(labels, rows);
  let trainX = takeRows(x, all.dims, split.train);
  let testX = takeRows(x, all.dims, split.test);
  if (model.kind === 'morphology') {
    const st = fitStandardizer(trainX, split.train.length, all.dims);
    trainX = applyStandardizer(trainX, split.train.length, all.dims, st);
    testX = applyStandardizer(testX, split.test.length, all.dims, st);
  }
  const r = evaluate(trainX, takeLabels(y, split.train), testX, takeLabels(y, split.test), all.dims, {
    protocol: opts.protocol,
    k: opts.k,
  });
  const name = new Map(store.listClasses().map((c) => [c.id, c.name]));
  const className = (id: number) => name.get(id) ?? `class ${id}`;
  return {
    model: model.name,
    protocol: opts.protocol,
    split: opts.split,
    weightedF1: r.weightedF1,
    macroF1: r.macroF1,
    balancedAccuracy: r.balancedAccuracy,
    accuracy: r.accuracy,
    perClass: r.perClass.map((c) => ({ ...c, class: className(c.class) })),
    classes: r.classes.map(className),
    confusion: r.confusion,
    train: { cells: split.train.length, groups: split.trainGroups },
    test: { cells: split.test.length, groups: split.testGroups },
  };
}
