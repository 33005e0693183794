import type { ClassDef, ProjectStats } from '../../shared/domain';
import { hotkeyLabel } from '../state/keys';
import { formatCount } from '../state/format';

/**
 * Every class with its hotkey and live label count. Clicking a chip labels the selection (the mouse path to what
 * the key does); where a view filters by class, the eye toggle shows or hides it.
 */
export function ClassBar({
  classes,
  stats,
  onLabel,
  hidden,
  onToggleHidden,
  disabled = false,
}: {
  classes: ClassDef[];
  stats: ProjectStats | null;
  onLabel?: (cls: ClassDef) => void;
  hidden?: ReadonlySet<number>;
  onToggleHidden?: (classId: number) => void;
  disabled?: boolean;
}) {
  return (
    <div className="class-bar" data-testid="class-bar" role="toolbar" aria-label="Classes and hotkeys">
      {classes.map((c) => {
        const n = stats?.labelsPerClass[c.name] ?? 0;
        const isHidden = hidden?.has(c.id) ?? false;
        return (
          <span
            key={c.id}
            className={`class-chip${isHidden ? ' hidden-class' : ''}`}
            data-testid={`class-chip-${c.name}`}
          >
            {onToggleHidden && (
              <input
                type="checkbox"
                checked={!isHidden}
                aria-label={`Show ${c.name}`}
                data-testid={`toggle-class-${c.name}`}
                onChange={() => onToggleHidden(c.id)}
              />
            )}
            <button
              type="button"
              disabled={disabled || !onLabel}
              title={`${c.description || c.name}${c.hotkey ? ` (key ${hotkeyLabel(c.hotkey)})` : ''}`}
              onClick={() => onLabel?.(c)}
              aria-label={`Label as ${c.name}`}
            >
              <span className="swatch" style={{ background: c.color }} />
              {c.hotkey && <kbd>{hotkeyLabel(c.hotkey)}</kbd>}
              <span className="class-name">{c.name}</span>
              <span className="class-count" data-testid={`class-count-${c.name}`}>
                {formatCount(n)}
              </span>
            </button>
          </span>
        );
      })}
    </div>
  );
}
