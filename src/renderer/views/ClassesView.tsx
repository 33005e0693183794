import { useEffect, useRef, useState } from 'react';
import type { ClassDef } from '../../shared/domain';
import { RESERVED_KEYS } from '../../shared/taxonomy';
import { getApi } from '../api';
import { useProject } from '../state/context';
import { errorText } from '../state/actions';
import { formatCount } from '../state/format';

type ClassPatch = { name?: string; color?: string; hotkey?: string | null; hidden?: boolean };

/**
 * The project's classes: add, rename, recolour, re-key, merge one into another (one undoable relabel of all its
 * cells, kept in the audit trail), and remove a class no cell carries (deleted if nothing ever used it, else
 * hidden so the label history keeps its name). Every change goes through the engine, which validates it.
 */
export function ClassesView() {
  const state = useProject();
  const { refreshClasses, refreshStats, setError, notify, stats, labelsVersion } = state;
  const [all, setAll] = useState<ClassDef[]>([]);
  const [version, setVersion] = useState(0);
  // Merges and their undo change the list too: reload whenever labels change, and after every edit here.
  useEffect(() => {
    void getApi()
      .call('classes.list', { includeHidden: true })
      .then(setAll)
      .catch((e: unknown) => setError(errorText(e)));
  }, [setError, labelsVersion, version]);

  /** Runs one engine call, then refreshes this list and the shell's class bar; false when the engine refused. */
  const run = async (what: () => Promise<string | null>): Promise<boolean> => {
    try {
      const msg = await what();
      if (msg) notify(msg);
      setError(null);
      return true;
    } catch (e) {
      setError(errorText(e));
      return false;
    } finally {
      setVersion((v) => v + 1);
      await Promise.all([refreshClasses(), refreshStats()]);
    }
  };
  const update = (c: ClassDef, patch: ClassPatch) =>
    run(async () => {
      await getApi().call('classes.update', { id: c.id, ...patch });
      return null;
    });

  const visible = all.filter((c) => !c.hidden);
  const hidden = all.filter((c) => c.hidden);
  const countOf = (c: ClassDef) => stats?.labelsPerClass[c.name] ?? 0;

  return (
    <main className="view settings-view classes-view" data-testid="classes-view">
      <h2>Classes</h2>
      <AddClassForm
        onAdd={(name, color, hotkey) =>
          run(async () => {
            const r = await getApi().call('classes.add', { name, color, hotkey: hotkey || undefined });
            return r.created ? `Added "${r.cls.name}".` : `"${r.cls.name}" already exists.`;
          })
        }
      />
      <table className="table" data-testid="classes-table">
        <thead>
          <tr>
            <th>Colour</th>
            <th>Name</th>
            <th title="Labels the selection in the gallery, map, review and slide viewer">Key</th>
            <th>Cells</th>
            <th>Merge into</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {visible.map((c) => (
            <ClassRow
              key={`${c.id}:${c.name}:${c.color}:${c.hotkey ?? ''}`}
              cls={c}
              count={countOf(c)}
              others={visible.filter((o) => o.id !== c.id)}
              onUpdate={(patch) => update(c, patch)}
              onMerge={(into) =>
                run(async () => {
                  const r = await getApi().call('classes.merge', { fromId: c.id, intoId: into.id });
                  return `Merged "${c.name}" into "${into.name}": ${r.relabeled} cell${r.relabeled === 1 ? '' : 's'} relabeled.${r.batchId ? ' Ctrl+Z undoes.' : ''}`;
                })
              }
              onRemove={() =>
                run(async () => {
                  const r = await getApi().call('classes.remove', { id: c.id });
                  return r.removed === 'deleted'
                    ? `Deleted "${c.name}".`
                    : `Hid "${c.name}": the label history still names it.`;
                })
              }
            />
          ))}
        </tbody>
      </table>
      {hidden.length > 0 && (
        <>
          <h3>Hidden classes</h3>
          <p className="muted">Kept because the label history names them; show one to label with it again.</p>
          <ul data-testid="hidden-classes">
            {hidden.map((c) => (
              <li key={c.id} data-testid="hidden-class" data-class-id={c.id}>
                <span className="swatch" style={{ background: c.color }} /> {c.name}{' '}
                <button
                  type="button"
                  data-testid="class-show"
                  onClick={() => void update(c, { hidden: false })}
                >
                  Show
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
    </main>
  );
}

function AddClassForm({
  onAdd,
}: {
  onAdd: (name: string, color: string, hotkey: string) => Promise<boolean>;
}) {
  const [name, setName] = useState('');
  const [color, setColor] = useState('#888888');
  const [hotkey, setHotkey] = useState('');
  return (
    <form
      className="row"
      data-testid="class-add"
      // One line, not the Settings form's column.
      style={{ flexDirection: 'row', maxWidth: 'none', alignItems: 'end' }}
      onSubmit={(e) => {
        e.preventDefault();
        if (!name.trim()) return;
        void onAdd(name.trim(), color, hotkey).then((ok) => {
          if (ok) {
            setName('');
            setHotkey('');
          }
        });
      }}
    >
      <label className="field grow">
        New class
        <input
          data-testid="class-add-name"
          value={name}
          maxLength={80}
          placeholder="e.g. Howell-Jolly body"
          onChange={(e) => setName(e.target.value)}
        />
      </label>
      <label className="field">
        Colour
        <input
          type="color"
          data-testid="class-add-color"
          value={color}
          onChange={(e) => setColor(e.target.value)}
        />
      </label>
      <label className="field">
        Key
        <HotkeyInput testId="class-add-key" value={hotkey} onChange={setHotkey} />
      </label>
      <button type="submit" className="primary" data-testid="class-add-submit" disabled={!name.trim()}>
        Add class
      </button>
    </form>
  );
}

function HotkeyInput({
  value,
  onChange,
  onCommit,
  testId,
}: {
  value: string;
  onChange: (v: string) => void;
  onCommit?: () => void;
  testId: string;
}) {
  return (
    <input
      data-testid={testId}
      value={value}
      size={2}
      maxLength={1}
      title={`One key; ${RESERVED_KEYS.filter((k) => k.trim()).join(', ')} and Space are reserved`}
      onChange={(e) => onChange(e.target.value.slice(-1).toUpperCase())}
      onBlur={onCommit}
      onKeyDown={(e) => {
        if (e.key === 'Enter') onCommit?.();
      }}
    />
  );
}

/** One class, edited in place: a field commits on Enter or when it loses focus. */
function ClassRow({
  cls,
  count,
  others,
  onUpdate,
  onMerge,
  onRemove,
}: {
  cls: ClassDef;
  count: number;
  others: ClassDef[];
  onUpdate: (patch: ClassPatch) => Promise<boolean>;
  onMerge: (into: ClassDef) => Promise<boolean>;
  onRemove: () => Promise<boolean>;
}) {
  const [name, setName] = useState(cls.name);
  const [hotkey, setHotkey] = useState(cls.hotkey ?? '');
  const [mergeInto, setMergeInto] = useState<number | ''>('');
  const colorInput = useRef<HTMLInputElement>(null);
  const commitName = () => {
    if (name.trim() && name.trim() !== cls.name)
      void onUpdate({ name: name.trim() }).then((ok) => ok || setName(cls.name));
    else setName(cls.name);
  };
  const commitKey = () => {
    if (hotkey !== (cls.hotkey ?? ''))
      void onUpdate({ hotkey: hotkey || null }).then((ok) => ok || setHotkey(cls.hotkey ?? ''));
  };
  // A colour is committed on the native change event (picker closed), not on every input event while dragging.
  useEffect(() => {
    const el = colorInput.current;
    if (!el) return;
    const onChange = () => {
      if (el.value.toLowerCase() !== cls.color.toLowerCase()) void onUpdate({ color: el.value });
    };
    el.addEventListener('change', onChange);
    return () => el.removeEventListener('change', onChange);
  }, [cls.color, onUpdate]);
  const target = others.find((o) => o.id === mergeInto);
  return (
    <tr data-testid="class-row" data-class-id={cls.id} data-class-name={cls.name}>
      <td>
        <input
          ref={colorInput}
          type="color"
          aria-label={`Colour of ${cls.name}`}
          data-testid="class-color"
          defaultValue={cls.color}
        />
      </td>
      <td>
        <input
          aria-label={`Name of ${cls.name}`}
          data-testid="class-name"
          value={name}
          maxLength={80}
          onChange={(e) => setName(e.target.value)}
          onBlur={commitName}
          onKeyDown={(e) => {
            if (e.key === 'Enter') commitName();
            if (e.key === 'Escape') setName(cls.name);
          }}
        />
      </td>
      <td>
        <HotkeyInput testId="class-key" value={hotkey} onChange={setHotkey} onCommit={commitKey} />
      </td>
      <td data-testid="class-cells">{formatCount(count)}</td>
      <td>
        <select
          aria-label={`Merge ${cls.name} into`}
          data-testid="class-merge-target"
          value={mergeInto}
          onChange={(e) => setMergeInto(e.target.value ? Number(e.target.value) : '')}
        >
          <option value="">—</option>
          {others.map((o) => (
            <option key={o.id} value={o.id}>
              {o.name}
            </option>
          ))}
        </select>{' '}
        <button
          type="button"
          data-testid="class-merge"
          disabled={!target}
          title={target ? `Relabel every ${cls.name} cell as ${target.name} (one undoable step)` : undefined}
          onClick={() => target && void onMerge(target)}
        >
          Merge
        </button>
      </td>
      <td>
        <button
          type="button"
          data-testid="class-remove"
          disabled={count > 0}
          title={
            count > 0
              ? 'Cells carry this class: merge it into another instead'
              : 'Delete (or hide, if the label history names it)'
          }
          onClick={() => void onRemove()}
        >
          Remove
        </button>
      </td>
    </tr>
  );
}
