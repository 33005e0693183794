import type { LabelSource } from '../../shared/domain';
import { getApi } from '../api';
import type { ProjectState } from './useEngine';

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Labels cells and says what happened in the notice line, naming the undo key. */
export async function labelCells(
  state: Pick<ProjectState, 'classes' | 'notify' | 'setError'>,
  cellIds: number[],
  classId: number | null,
  source: LabelSource = 'manual',
  runId?: number,
): Promise<boolean> {
  if (cellIds.length === 0) {
    state.notify('Select cells first (click, shift-click, ctrl-click or drag a box).');
    return false;
  }
  try {
    const r = await getApi().call('labels.apply', { cellIds, classId, source, runId });
    const name =
      classId == null ? 'unlabeled' : (state.classes.find((c) => c.id === classId)?.name ?? `#${classId}`);
    state.notify(
      r.changed === 0
        ? `No change: ${cellIds.length === 1 ? 'the cell is' : 'the cells are'} already ${name}.`
        : `${r.changed} cell${r.changed === 1 ? '' : 's'} → ${name}. Ctrl+Z undoes.`,
    );
    return true;
  } catch (e) {
    state.setError(errorText(e));
    return false;
  }
}

export async function undoLabels(
  state: Pick<ProjectState, 'notify' | 'setError'>,
  redo = false,
): Promise<void> {
  try {
    const r = await getApi().call(redo ? 'labels.redo' : 'labels.undo', {});
    state.notify(
      r
        ? `${redo ? 'Redid' : 'Undid'} labeling of ${r.cellIds.length} cell${r.cellIds.length === 1 ? '' : 's'}.`
        : `Nothing to ${redo ? 'redo' : 'undo'}.`,
    );
  } catch (e) {
    state.setError(errorText(e));
  }
}
