/** Domain types shared by engine and renderer. Plain data only: everything here must survive structured clone and JSON. */

export type CellKind = 'rbc' | 'wbc' | 'platelet' | 'unknown';
export type CellOrigin = 'segmented' | 'imported-crop' | 'imported-annotation';
export type LabelSource = 'manual' | 'suggestion' | 'bulk' | 'propagated' | 'imported' | 'review';
export type LabelAction = 'apply' | 'undo' | 'redo';
export type JobKind = 'ingest' | 'embed' | 'map' | 'predict' | 'export';
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted';

export interface ProjectInfo {
  path: string;
  name: string;
  schemaVersion: number;
}

export interface ClassDef {
  id: number;
  name: string;
  color: string;
  hotkey: string | null;
  description: string;
  isRbc: boolean;
  isInfected: boolean;
  needsReview: boolean;
  /** Kept for the label history but out of the class bar (only listed with `includeHidden`). */
  hidden?: boolean;
}

export interface ModelInfo {
  id: number;
  name: string;
  kind: 'morphology' | 'vit-onnx';
  dims: number;
  inputSize: number | null;
  arch: string | null;
  embeddedCells: number;
}

export interface ProjectStats {
  images: number;
  cells: number;
  cellsByKind: Record<string, number>;
  labeled: number;
  labelsPerClass: Record<string, number>;
  models: Array<{ id: number; name: string; kind: string; dims: number; embedded: number }>;
}

export interface Slide {
  id: number;
  name: string;
  path: string;
  width: number;
  height: number;
  source: string | null;
  subject: string | null;
  kind: 'field' | 'crop';
  cellCount: number;
  labeledCount: number;
}

export interface CellSummary {
  id: number;
  imageId: number;
  kind: CellKind;
  bbox: [number, number, number, number];
  centroid: [number, number];
  classId: number | null;
  predictedClassId: number | null;
  confidence: number | null;
  margin: number | null;
}

export interface CellDetail extends CellSummary {
  origin: CellOrigin;
  touchesBorder: boolean;
  contour: number[];
  morph: { area: number; perimeter: number; circularity: number; convexity: number; eccentricity: number };
  imageName: string;
}

export interface AnnotationEvent {
  id: number;
  cellId: number;
  classId: number | null;
  className: string | null;
  previousClassId: number | null;
  annotator: string;
  source: LabelSource;
  action: LabelAction;
  batchId: number;
  sessionId: number | null;
  modelId: number | null;
  runId: number | null;
  createdAt: string;
}

export interface JobInfo {
  id: number;
  kind: JobKind;
  state: JobState;
  done: number;
  total: number;
  phase: string;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  result: unknown;
}

export interface JobProgress {
  jobId: number;
  kind: JobKind;
  state: JobState;
  done: number;
  total: number;
  phase: string;
  etaSeconds: number | null;
  error?: string;
}
