import type { VectorIndex } from '../search/vector-index';
import { nearestToSeeds } from './suggest';

export interface PropagationCandidate {
  cellId: number;
  similarity: number;
  /** The seed cell this candidate is most similar to. */
  fromCellId: number;
}

export interface PropagationOptions {
  /** Neighbours examined per seed (default 20). */
  k?: number;
  /** Cosine similarity a candidate must reach (default 0.9). */
  minSimilarity?: number;
  /** Labeled cells (never proposed). */
  labeled?: ReadonlySet<number> | ReadonlyMap<number, unknown>;
}

/**
 * Label propagation preview: the unlabeled cells among the k nearest neighbours of the selected seed cells whose
 * cosine similarity reaches minSimilarity, each once (with its most similar seed), most similar first. Nothing is
 * written; the caller shows the preview and records accepted ones as `propagated` annotations.
 */
export async function propagationPreview(
  index: VectorIndex,
  seedIds: ArrayLike<number>,
  options: PropagationOptions = {},
): Promise<PropagationCandidate[]> {
  const seeds = Array.from(seedIds).filter((id) => index.has(id));
  if (seeds.length === 0) return [];
  const exclude = new Set<number>(seeds);
  if (options.labeled) for (const id of options.labeled.keys()) exclude.add(id);
  return nearestToSeeds(index, seeds, options.k ?? 20, exclude, options.minSimilarity ?? 0.9);
}
