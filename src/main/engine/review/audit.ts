import { writeFileAtomic } from '../export/atomic';
import { csvRow } from '../formats/csv';
import { iterateAuditEvents, type AuditEvent, type AuditFilter } from '../store/review-repo';
import type { CellStore } from '../store/store';

export type { AuditEvent, AuditFilter };

/** Label events of the project (who, when, how, which model/run behind a suggestion), oldest first. */
export function auditTrail(store: CellStore, filter: AuditFilter = {}): AuditEvent[] {
  return [...iterateAuditEvents(store, filter)];
}

export const AUDIT_CSV_COLUMNS = [
  'annotation_id',
  'batch_id',
  'created_at',
  'annotator',
  'source',
  'action',
  'target_batch_id',
  'cell_id',
  'image_id',
  'image',
  'class_id',
  'class',
  'previous_class_id',
  'previous_class',
  'session_id',
  'model_id',
  'model',
  'run_id',
  'note',
] as const;

/** The audit trail as CSV, written atomically (a reader never sees half a file). Returns the number of events. */
export function writeAuditCsv(
  store: CellStore,
  file: string,
  filter: AuditFilter = {},
  opts: { signal?: AbortSignal; onProgress?: (done: number, total: number, phase: string) => void } = {},
): number {
  const parts: string[] = [csvRow(AUDIT_CSV_COLUMNS)];
  let n = 0;
  for (const e of iterateAuditEvents(store, filter)) {
    if ((n & 1023) === 0) {
      opts.signal?.throwIfAborted();
      opts.onProgress?.(n, 0, 'audit');
    }
    parts.push(
      csvRow([
        e.annotationId,
        e.batchId,
        e.createdAt,
        e.annotator,
        e.source,
        e.action,
        e.targetBatchId,
        e.cellId,
        e.imageId,
        e.imageName,
        e.classId,
        e.className,
        e.previousClassId,
        e.previousClassName,
        e.sessionId,
        e.modelId,
        e.modelName,
        e.runId,
        e.note,
      ]),
    );
    n++;
  }
  writeFileAtomic(file, '\uFEFF' + parts.join(''));
  opts.onProgress?.(n, n, 'audit');
  return n;
}
