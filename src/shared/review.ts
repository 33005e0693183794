/**
 * Review, sign-off and audit types shared by the engine (src/main/engine/review, store/review-repo) and the
 * renderer. Plain data only.
 */
import type { LabelAction, LabelSource } from './domain';

export type ReviewFilter =
  | {
      kind: 'predicted';
      classIds: number[];
      imageIds?: number[];
      unlabeledOnly?: boolean;
      minConfidence?: number;
    }
  | { kind: 'unlabeled'; imageIds?: number[] }
  | {
      kind: 'qc-sample';
      n: number;
      seed: number;
      imageIds?: number[];
      classIds?: number[];
      labeledOnly?: boolean;
    };

export type ReviewMode = 'single' | 'blind';

export interface ReviewSession {
  id: number;
  name: string;
  mode: ReviewMode;
  filter: ReviewFilter;
  state: 'open' | 'closed';
  createdBy: string;
  createdAt: string;
  itemCount: number;
}

export interface ReviewProgress {
  sessionId: number;
  reader: string;
  total: number;
  decided: number;
  remaining: number;
  nextPosition: number | null;
}

export interface ReviewItemBase {
  sessionId: number;
  position: number;
  total: number;
  cellId: number;
  imageId: number;
  bbox: [number, number, number, number];
  centroid: [number, number];
  ownDecision: number | null | undefined;
}

/** In blind mode the item carries no label, prediction or other reader's decision at all. */
export type ReviewItem =
  | (ReviewItemBase & { blind: true })
  | (ReviewItemBase & {
      blind: false;
      currentClassId: number | null;
      predictedClassId: number | null;
      confidence: number | null;
      otherDecisions: Array<{ reader: string; classId: number | null }>;
    });

export interface KappaResult {
  n: number;
  observed: number;
  expected: number;
  kappa: number | null;
}

export interface ReaderAgreement {
  sessionId: number;
  readerA: string;
  readerB: string;
  n: number;
  overall: KappaResult;
  perClass: Array<KappaResult & { classId: number; className: string; countA: number; countB: number }>;
  disagreements: number;
}

export interface Disagreement {
  position: number;
  cellId: number;
  decisionA: number | null;
  decisionB: number | null;
  consensus: { classId: number | null; decidedBy: string; decidedAt: string } | null;
}

export interface SlideSignatureRow {
  id: number;
  imageId: number;
  signedBy: string;
  signedAt: string;
  flaggedClassIds: number[];
  reviewedCells: number;
  note: string | null;
}

export interface SlideSignoffStatus {
  imageId: number;
  flaggedClassIds: number[];
  flaggedCellIds: number[];
  unreviewedCellIds: number[];
  canSign: boolean;
  signatures: SlideSignatureRow[];
}

export interface AuditEvent {
  annotationId: number;
  batchId: number;
  createdAt: string;
  annotator: string;
  source: LabelSource;
  action: LabelAction;
  targetBatchId: number | null;
  cellId: number;
  imageId: number;
  imageName: string;
  classId: number | null;
  className: string | null;
  previousClassId: number | null;
  previousClassName: string | null;
  sessionId: number | null;
  modelId: number | null;
  modelName: string | null;
  runId: number | null;
  note: string | null;
}
