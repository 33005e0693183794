import { StoreError } from '../store/errors';
import {
  cellIdsOnImage,
  insertSlideSignature,
  labeledCellsOnImage,
  listSlideSignatures,
  reviewedCellIdsOnImage,
  type SlideSignatureRow,
} from '../store/review-repo';
import type { CellStore } from '../store/store';
import type { SlideSignoffStatus } from '../../../shared/review';
export type { SlideSignoffStatus };

/**
 * A cell needs review when its current label or, unlabeled or not, its latest prediction is a flagged class: a
 * parasite the model saw but nobody confirmed must block sign-off as much as a labeled one.
 */
export function slideSignoffStatus(store: CellStore, imageId: number): SlideSignoffStatus {
  if (!store.getImage(imageId)) throw new StoreError('not-found', `No slide with id ${imageId}.`);
  const flagged = new Set(
    store
      .listClasses()
      .filter((c) => c.needsReview)
      .map((c) => c.id),
  );
  const labels = labeledCellsOnImage(store, imageId);
  const run = store.latestPredictionRun();
  const predicted = new Map<number, number>();
  if (run) for (let i = 0; i < run.cellIds.length; i++) predicted.set(run.cellIds[i], run.predicted[i]);
  const flaggedCellIds = cellIdsOnImage(store, imageId).filter((id) => {
    const l = labels.get(id);
    const p = predicted.get(id);
    return (l !== undefined && flagged.has(l)) || (p !== undefined && flagged.has(p));
  });
  const reviewed = reviewedCellIdsOnImage(store, imageId);
  const unreviewedCellIds = flaggedCellIds.filter((id) => !reviewed.has(id));
  return {
    imageId,
    flaggedClassIds: [...flagged],
    flaggedCellIds,
    unreviewedCellIds,
    canSign: unreviewedCellIds.length === 0,
    signatures: listSlideSignatures(store, imageId),
  };
}

/** Signs a slide off; refused while any flagged cell on it is unreviewed. The signature is append-only. */
export function signSlide(
  store: CellStore,
  s: { imageId: number; signedBy: string; note?: string | null },
): SlideSignatureRow {
  if (!s.signedBy.trim()) throw new StoreError('invalid', 'A signature needs the signer name.');
  return store.transaction(() => {
    const st = slideSignoffStatus(store, s.imageId);
    if (!st.canSign) {
      throw new StoreError(
        'invalid',
        `Slide ${s.imageId} cannot be signed: ${st.unreviewedCellIds.length} cell(s) in classes that need review are unreviewed (e.g. cell ${st.unreviewedCellIds.slice(0, 5).join(', ')}). Review them first.`,
      );
    }
    const id = insertSlideSignature(store, {
      imageId: s.imageId,
      signedBy: s.signedBy.trim(),
      flaggedClassIds: st.flaggedClassIds,
      reviewedCells: st.flaggedCellIds.length,
      note: s.note ?? null,
    });
    return listSlideSignatures(store, s.imageId).find((r) => r.id === id)!;
  });
}
