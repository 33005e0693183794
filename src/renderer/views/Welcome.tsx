import { useEffect, useState } from 'react';
import { getApi } from '../api';

/** No project open: create one, open one by path or picker, or reopen a recent one. */
export function Welcome({ onError }: { onError: (msg: string) => void }) {
  const [recent, setRecent] = useState<string[]>([]);
  const [path, setPath] = useState('');
  useEffect(() => {
    void getApi().call('project.recent', {}).then(setRecent);
  }, []);
  const api = getApi();
  const run = async (method: 'project.create' | 'project.open', p: string) => {
    if (!p.trim()) return onError('Enter the folder of the project (for example /data/ward3.rdproj).');
    try {
      await api.call(method, { path: p.trim() });
    } catch (e) {
      onError((e as Error).message);
    }
  };
  const pick = async (method: 'project.create' | 'project.open') => {
    const picked = await api.pickPaths?.({
      directory: true,
      title: method === 'project.create' ? 'New project folder' : 'Open project',
    });
    if (picked?.[0]) await run(method, picked[0]);
  };
  return (
    <main className="welcome" data-testid="welcome">
      <h1>RedDino Studio</h1>
      <p>Red blood cell morphology and malaria review with the RedDino foundation model.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run('project.open', path);
        }}
      >
        <label>
          Project folder
          <input
            data-testid="project-path"
            value={path}
            onChange={(e) => setPath(e.target.value)}
            placeholder="/data/smears/ward3.rdproj"
          />
        </label>
        <button type="button" data-testid="create-project" onClick={() => void run('project.create', path)}>
          Create project
        </button>
        <button type="submit" data-testid="open-project">
          Open project
        </button>
        {api.pickPaths && (
          <>
            <button type="button" onClick={() => void pick('project.create')}>
              New…
            </button>
            <button type="button" onClick={() => void pick('project.open')}>
              Open…
            </button>
          </>
        )}
      </form>
      {recent.length > 0 && (
        <section>
          <h2>Recent projects</h2>
          <ul>
            {recent.map((r) => (
              <li key={r}>
                <button
                  type="button"
                  className="link"
                  data-testid="recent-project"
                  onClick={() => void run('project.open', r)}
                >
                  {r}
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      <section className="shortcuts" aria-label="Keyboard shortcuts">
        <h2>Keyboard</h2>
        <p>
          <kbd>1</kbd>–<kbd>0</kbd> and letter keys label the selection with a class (shown on the class bar)
          · <kbd>Ctrl+Z</kbd> undo · <kbd>Ctrl+Shift+Z</kbd> / <kbd>Ctrl+Y</kbd> redo · arrows move the focus,{' '}
          <kbd>Shift</kbd>+arrows extend · in Review: <kbd>A</kbd> accept, <kbd>X</kbd> reject,{' '}
          <kbd>Space</kbd> skip · <kbd>Alt+1</kbd>–<kbd>Alt+7</kbd> switch views.
        </p>
      </section>
    </main>
  );
}
