import { VectorIndex } from '../search/vector-index';
import {
  applyStandardizer,
  fitStandardizer,
  MORPHOLOGY_MODEL_NAME,
  type Standardizer,
} from '../embed/morphology';
import type { CellStore, ModelRecord } from '../store/store';
import { ApiError } from '../../../shared/api';

interface Cached {
  modelId: number;
  index: VectorIndex;
  standardizer: Standardizer | null;
  /** Highest cell id loaded; cells are only appended, so newer vectors have larger ids. */
  maxCellId: number;
  fittedOn: number;
}

/**
 * Per-model vector index over the project's embeddings, kept in step with the store: new cells' vectors are
 * added incrementally on the next use. Morphology vectors are stored raw and standardised per project here (the
 * standardiser is refitted when the project has doubled since it was fitted).
 */
const ANN_MIN_CELLS = 200_000;

/**
 * The model whose embeddings predictions, suggestions, maps and evaluation use: the requested one, else the
 * `activeModel` setting, else the first ViT model with embedded cells, else the first model with any.
 */
export function activeModelOf(store: CellStore, requested?: number): ModelRecord {
  const models = store.listModels();
  if (requested != null) {
    const m = models.find((x) => x.id === requested);
    if (!m)
      throw new ApiError('not-found', `No model with id ${requested}. Run "reddino model list" to see them.`);
    return m;
  }
  const setting = store.getSetting('activeModel');
  const chosen = setting ? models.find((m) => String(m.id) === setting) : undefined;
  // An older built-in morphology model serves until the current one holds as many vectors (re-embedding runs
  // as a job), so the map never shows a project half in one feature space and half in the other.
  const morphology =
    outdatedMorphology(models) ??
    models.find((m) => m.kind === 'morphology' && m.name === MORPHOLOGY_MODEL_NAME);
  const usable = models.filter((m) => m.embeddedCells > 0 && (m.kind !== 'morphology' || m === morphology));
  const m = chosen ?? usable.find((x) => x.kind === 'vit-onnx') ?? usable[0] ?? models[0];
  if (!m)
    throw new ApiError(
      'no-embeddings',
      'No cells are embedded yet. Import images first (ingest embeds them with the morphology model).',
    );
  return m;
}

/**
 * The older built-in morphology model with the most vectors, when it holds more than the current one
 * (MORPHOLOGY_MODEL_NAME): the project still needs re-embedding with the current version. Else null.
 */
export function outdatedMorphology(models: readonly ModelRecord[]): ModelRecord | null {
  const current = models.find((m) => m.kind === 'morphology' && m.name === MORPHOLOGY_MODEL_NAME);
  let best: ModelRecord | null = null;
  for (const m of models) {
    if (m.kind !== 'morphology' || m.name === MORPHOLOGY_MODEL_NAME || m.embeddedCells === 0) continue;
    if (!best || m.embeddedCells > best.embeddedCells) best = m;
  }
  return best && best.embeddedCells > (current?.embeddedCells ?? 0) ? best : null;
}

export class VectorCache {
  private cache: Cached | null = null;
  private annBuilding = new Set<VectorIndex>();

  constructor(private readonly store: () => CellStore) {}

  activeModel(requested?: number): ModelRecord {
    return activeModelOf(this.store(), requested);
  }

  async index(modelId: number): Promise<{ index: VectorIndex; standardizer: Standardizer | null }> {
    const store = this.store();
    const model = store.getModel(modelId)!;
    const total = store.embeddingCount(modelId);
    let c = this.cache;
    const refit = c && model.kind === 'morphology' && total > 2 * c.fittedOn;
    if (!c || c.modelId !== modelId || refit || total < c.index.size) {
      await this.reset();
      const all = store.getEmbeddings(modelId);
      const n = all.cellIds.length;
      const standardizer =
        model.kind === 'morphology' && n > 1 ? fitStandardizer(all.vectors, n, all.dims) : null;
      const vectors = standardizer ? applyStandardizer(all.vectors, n, all.dims, standardizer) : all.vectors;
      const index = new VectorIndex(all.dims);
      index.add(all.cellIds, vectors);
      c = { modelId, index, standardizer, maxCellId: n ? all.cellIds[n - 1] : 0, fittedOn: n };
      this.cache = c;
    } else if (total > c.index.size) {
      const fresh = store.getEmbeddings(modelId, c.maxCellId);
      const n = fresh.cellIds.length;
      const vectors = c.standardizer
        ? applyStandardizer(fresh.vectors, n, fresh.dims, c.standardizer)
        : fresh.vectors;
      c.index.add(fresh.cellIds, vectors);
      if (n) c.maxCellId = fresh.cellIds[n - 1];
    }
    this.maybeBuildAnn(c.index);
    return { index: c.index, standardizer: c.standardizer };
  }

  /**
   * Above the index's ANN threshold (200k cells) an IVF index (search/ivf.ts) is built in the background, and
   * rebuilt once more cells were added since than it scans exactly; until it is ready, and for anything smaller,
   * searches use the exact int8 scan (84 ms for 1M x 384).
   */
  private maybeBuildAnn(index: VectorIndex): void {
    if (index.size < ANN_MIN_CELLS || index.annReady || this.annBuilding.has(index)) return;
    this.annBuilding.add(index);
    void index
      .buildAnn()
      .catch(() => undefined)
      .finally(() => this.annBuilding.delete(index));
  }

  async reset(): Promise<void> {
    const old = this.cache;
    this.cache = null;
    await old?.index.close();
  }
}
