/**
 * The one declaration of the engine API. The preload client, the main-process relay, the web host and the CLI are
 * all derived from this map: a method name or payload shape is never written twice.
 */
import { z } from 'zod';
import type {
  AnnotationEvent,
  CellDetail,
  CellSummary,
  ClassDef,
  JobInfo,
  JobProgress,
  ModelInfo,
  ProjectInfo,
  ProjectStats,
  Slide,
} from './domain';
import type {
  AuditEvent,
  Disagreement,
  ReaderAgreement,
  ReviewItem,
  ReviewProgress,
  ReviewSession,
  SlideSignatureRow,
  SlideSignoffStatus,
} from './review';

const id = z.number().int().positive();
const ids = z.array(id).max(5_000_000);
const labelSource = z.enum(['manual', 'suggestion', 'bulk', 'propagated', 'imported', 'review']);
const cellKind = z.enum(['rbc', 'wbc', 'platelet', 'unknown']);
const pathArg = z.string().min(1).max(4096);

export interface MapData {
  modelId: number;
  method: string;
  cellIds: Int32Array;
  xy: Float32Array;
  imageIds: Int32Array;
  labels: Int32Array;
  predicted: Int32Array;
  confidence: Float32Array;
}

/** Every cell outline of one slide as typed arrays: contour i is xy[2*offsets[i] .. 2*offsets[i+1]). */
export interface CellOutlines {
  cellIds: Int32Array;
  offsets: Int32Array;
  xy: Float32Array;
}

export interface Suggestion {
  cellId: number;
  reason: string;
  strategy: string;
  predictedClassId: number | null;
  confidence: number | null;
  /** The prediction run behind the suggestion, recorded with an accepted label for the audit trail. */
  runId: number | null;
}

export interface PropagationCandidate {
  cellId: number;
  similarity: number;
  fromCellId: number;
}

export const suggestStrategies = [
  'mix',
  'margin',
  'entropy',
  'diversity',
  'class',
  'similar',
  'seed',
] as const;

/** Method name -> [argument schema, result type]. Results are produced by the engine itself and typed here. */
export const api = {
  'project.create': z.object({ path: pathArg }),
  'project.open': z.object({ path: pathArg }),
  'project.close': z.object({}),
  'project.current': z.object({}),
  'project.stats': z.object({}),
  'project.recent': z.object({}),
  'settings.get': z.object({}),
  'settings.set': z.object({
    annotator: z.string().min(1).max(100).optional(),
    provider: z.enum(['auto', 'cpu', 'cuda', 'dml', 'coreml']).optional(),
    theme: z.enum(['light', 'dark']).optional(),
  }),
  'classes.list': z.object({ includeHidden: z.boolean().optional() }),
  'classes.add': z.object({
    name: z.string().min(1).max(80),
    color: z
      .string()
      .regex(/^#[0-9a-fA-F]{6}$/)
      .optional(),
    hotkey: z.string().length(1).optional(),
  }),
  'classes.update': z.object({
    id,
    name: z.string().min(1).max(80).optional(),
    color: z
      .string()
      .regex(/^#[0-9a-fA-F]{6}$/)
      .optional(),
    hotkey: z.string().length(1).nullable().optional(),
    hidden: z.boolean().optional(),
  }),
  'classes.merge': z.object({ fromId: id, intoId: id }),
  /** Deletes a class nothing ever used; hides one the label history still names; refused while cells carry it. */
  'classes.remove': z.object({ id }),
  'slides.list': z.object({}),
  'cells.query': z.object({
    imageIds: ids.optional(),
    classIds: ids.optional(),
    cellIds: ids.optional(),
    kinds: z.array(cellKind).optional(),
    labeled: z.enum(['labeled', 'unlabeled', 'any']).optional(),
    sort: z.enum(['id', 'image', 'class', 'confidence', 'uncertainty']).optional(),
    offset: z.number().int().min(0).optional(),
    limit: z.number().int().min(1).max(100_000).optional(),
  }),
  'cells.count': z.object({
    imageIds: ids.optional(),
    classIds: ids.optional(),
    cellIds: ids.optional(),
    kinds: z.array(cellKind).optional(),
    labeled: z.enum(['labeled', 'unlabeled', 'any']).optional(),
  }),
  'cells.outlines': z.object({ imageId: id }),
  'cells.get': z.object({ id }),
  'cells.history': z.object({ id }),
  'labels.apply': z.object({
    cellIds: ids.min(1),
    classId: id.nullable(),
    source: labelSource.default('manual'),
    runId: id.optional(),
  }),
  'labels.undo': z.object({}),
  'labels.redo': z.object({}),
  'jobs.list': z.object({}),
  'jobs.cancel': z.object({ jobId: id }),
  'jobs.resume': z.object({ jobId: id }),
  'ingest.start': z.object({
    paths: z.array(pathArg).min(1).max(100_000),
    as: z.enum(['fields', 'crops']).default('fields'),
    source: z.string().max(200).optional(),
    subject: z.string().max(200).optional(),
    cellsFrom: z.enum(['segmentation', 'annotations']).default('segmentation'),
    maxPixels: z.number().int().positive().optional(),
  }),
  'models.list': z.object({}),
  'models.setActive': z.object({ modelId: id }),
  'models.add': z.object({
    path: pathArg,
    name: z.string().min(1).max(100).optional(),
    arch: z.string().optional(),
  }),
  'embed.start': z.object({ modelId: id.optional() }),
  'map.get': z.object({ modelId: id.optional() }),
  'map.start': z.object({ modelId: id.optional() }),
  'predict.refresh': z.object({ modelId: id.optional() }),
  suggest: z.object({
    strategy: z.enum(suggestStrategies).default('mix'),
    classId: id.optional(),
    seedCellIds: ids.optional(),
    n: z.number().int().min(1).max(1000).default(20),
    modelId: id.optional(),
  }),
  'propagate.preview': z.object({
    seedCellIds: ids.min(1),
    k: z.number().int().min(1).max(10_000).default(50),
    minSimilarity: z.number().min(-1).max(1).default(0.9),
    modelId: id.optional(),
  }),
  'export.start': z.object({
    format: z.enum(['imagefolder', 'csv', 'coco', 'npy', 'geojson', 'report', 'audit']),
    out: pathArg,
    classes: z.array(z.string().min(1)).optional(),
    slides: z.array(z.string().min(1)).optional(),
    reviewedOnly: z.boolean().optional(),
    includeUnlabeled: z.boolean().optional(),
    size: z.number().int().min(8).max(4096).optional(),
    model: z.string().optional(),
    rbcPerMicroliter: z.number().positive().optional(),
  }),
  'review.create': z.object({
    name: z.string().min(1).max(200),
    mode: z.enum(['single', 'blind']).default('single'),
    filter: z.discriminatedUnion('kind', [
      z.object({
        kind: z.literal('predicted'),
        classIds: ids.min(1),
        imageIds: ids.optional(),
        unlabeledOnly: z.boolean().optional(),
        minConfidence: z.number().min(0).max(1).optional(),
      }),
      z.object({ kind: z.literal('unlabeled'), imageIds: ids.optional() }),
      z.object({
        kind: z.literal('qc-sample'),
        n: z.number().int().min(1).max(1_000_000),
        seed: z.number().int().default(1),
        imageIds: ids.optional(),
        classIds: ids.optional(),
        labeledOnly: z.boolean().optional(),
      }),
    ]),
  }),
  'review.list': z.object({}),
  'review.progress': z.object({ sessionId: id }),
  'review.next': z.object({ sessionId: id, fromPosition: z.number().int().min(0).optional() }),
  'review.decide': z.object({ sessionId: id, cellId: id, classId: id.nullable() }),
  'review.agreement': z.object({ sessionId: id, readerA: z.string().min(1), readerB: z.string().min(1) }),
  'review.disagreements': z.object({ sessionId: id, readerA: z.string().min(1), readerB: z.string().min(1) }),
  'review.settle': z.object({ sessionId: id, cellId: id, classId: id.nullable() }),
  'slides.signoff': z.object({ imageId: id }),
  'slides.sign': z.object({ imageId: id, note: z.string().max(2000).optional() }),
  'audit.list': z.object({
    cellIds: ids.optional(),
    imageIds: ids.optional(),
    annotators: z.array(z.string()).optional(),
    sources: z.array(labelSource).optional(),
    since: z.string().optional(),
    until: z.string().optional(),
    limit: z.number().int().min(1).max(100_000).default(500),
    offset: z.number().int().min(0).optional(),
  }),
} as const;

export type ApiMethod = keyof typeof api;
export type ApiArgs<M extends ApiMethod> = z.input<(typeof api)[M]>;
export type ApiParsedArgs<M extends ApiMethod> = z.output<(typeof api)[M]>;

export interface ApiResults {
  'project.create': ProjectInfo;
  'project.open': ProjectInfo;
  'project.close': null;
  'project.current': ProjectInfo | null;
  'project.stats': ProjectStats;
  'project.recent': string[];
  'settings.get': { annotator: string; provider: string; theme: 'light' | 'dark' };
  'settings.set': { annotator: string; provider: string; theme: 'light' | 'dark' };
  'classes.list': ClassDef[];
  'classes.add': { cls: ClassDef; created: boolean };
  'classes.update': ClassDef;
  'classes.merge': { batchId: number; relabeled: number };
  'classes.remove': { removed: 'deleted' | 'hidden' };
  'slides.list': Slide[];
  'cells.query': CellSummary[];
  'cells.count': number;
  'cells.outlines': CellOutlines;
  'cells.get': CellDetail;
  'cells.history': AnnotationEvent[];
  'labels.apply': { batchId: number; changed: number };
  'labels.undo': { batchId: number; cellIds: number[] } | null;
  'labels.redo': { batchId: number; cellIds: number[] } | null;
  'jobs.list': JobInfo[];
  'jobs.cancel': { cancelled: boolean };
  'jobs.resume': { jobId: number };
  'ingest.start': { jobId: number };
  'models.list': ModelInfo[];
  'models.add': ModelInfo;
  'models.setActive': { modelId: number };
  'embed.start': { jobId: number };
  'map.get': MapData | null;
  'map.start': { jobId: number };
  'predict.refresh': { runId: number | null };
  suggest: Suggestion[];
  'propagate.preview': PropagationCandidate[];
  'export.start': { jobId: number };
  'review.create': ReviewSession;
  'review.list': ReviewSession[];
  'review.progress': ReviewProgress;
  'review.next': ReviewItem | null;
  'review.decide': { decisionId: number };
  'review.agreement': ReaderAgreement;
  'review.disagreements': Disagreement[];
  'review.settle': { consensusId: number; batchId: number | null };
  'slides.signoff': SlideSignoffStatus;
  'slides.sign': SlideSignatureRow;
  'audit.list': AuditEvent[];
}

// Every method must have a result type and every result type a method.
type Missing = Exclude<ApiMethod, keyof ApiResults> | Exclude<keyof ApiResults, ApiMethod>;
const _complete: Missing extends never ? true : never = true;
void _complete;

export type EngineEvent =
  | { type: 'job'; progress: JobProgress }
  | { type: 'labels'; cellIds: number[] }
  | { type: 'predictions'; runId: number }
  | { type: 'map'; modelId: number; method: string }
  /** A large project's background integrity check found damage: stop and restore from a backup. */
  | { type: 'integrity'; ok: boolean; problems: string[] }
  | { type: 'project'; project: ProjectInfo | null };

/** The object the preload (desktop) or the web bridge (browser) puts on `window.api`. */
export interface RendererApi {
  call<M extends ApiMethod>(method: M, args: ApiArgs<M>): Promise<ApiResults[M]>;
  onEvent(listener: (e: EngineEvent) => void): () => void;
  /** URL of a cell thumbnail or a slide image, served from the store (never a file path). */
  mediaUrl(kind: 'thumb' | 'image', id: number): string;
  /** URL of one tile of a slide's pyramid (src/shared/pyramid.ts): level 0 is full resolution. */
  tileUrl(imageId: number, level: number, x: number, y: number): string;
  /** Native folder/file picker where the host has one; null in the browser host. */
  pickPaths: ((opts: { directory: boolean; title: string }) => Promise<string[]>) | null;
  /** File-system paths of dropped files (desktop only; the browser never reveals them). */
  pathsForFiles?: ((files: File[]) => string[]) | null;
}

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function isApiMethod(m: unknown): m is ApiMethod {
  return typeof m === 'string' && Object.prototype.hasOwnProperty.call(api, m);
}

/** Validates an untrusted call; throws ApiError('invalid-args') naming the offending field. */
export function parseCall<M extends ApiMethod>(
  method: unknown,
  args: unknown,
): { method: M; args: ApiParsedArgs<M> } {
  if (!isApiMethod(method)) throw new ApiError('unknown-method', `Unknown API method ${String(method)}.`);
  const r = api[method].safeParse(args ?? {});
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ApiError('invalid-args', `${method}: ${issue.path.join('.') || 'arguments'}: ${issue.message}`);
  }
  return { method: method as M, args: r.data as ApiParsedArgs<M> };
}
