import { useEffect, useState } from 'react';
import { getApi } from './api';
import { useProjectState } from './state/useEngine';
import { StatusBar } from './components/StatusBar';
import { Welcome } from './views/Welcome';
import { SlidesView } from './views/SlidesView';

type View = 'slides';

export function App() {
  const state = useProjectState();
  const [view, setView] = useState<View>('slides');
  const [theme, setTheme] = useState<'light' | 'dark'>('light');
  useEffect(() => {
    void getApi()
      .call('settings.get', {})
      .then((s) => setTheme(s.theme));
  }, []);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  const toggleTheme = () => {
    const next = theme === 'light' ? 'dark' : 'light';
    setTheme(next);
    void getApi().call('settings.set', { theme: next });
  };
  const version = (state.stats?.cells ?? 0) + (state.stats?.labeled ?? 0) * 1e7;

  return (
    <div className="app" data-testid="app-shell">
      <header className="top-bar">
        <strong className="brand">RedDino Studio</strong>
        {state.project && (
          <>
            <span className="project-name" data-testid="project-name">
              {state.project.name}
            </span>
            <nav>
              <button type="button" aria-pressed={view === 'slides'} onClick={() => setView('slides')}>
                Slides
              </button>
            </nav>
          </>
        )}
        <span className="spacer" />
        <button type="button" onClick={toggleTheme} title="Switch light/dark theme">
          {theme === 'light' ? 'Dark' : 'Light'} theme
        </button>
        {state.project && (
          <button type="button" onClick={() => void getApi().call('project.close', {})}>
            Close project
          </button>
        )}
      </header>
      {state.error && (
        <div className="error-banner" role="alert" data-testid="error-banner">
          {state.error}
          <button type="button" onClick={() => state.setError(null)} aria-label="Dismiss">
            ×
          </button>
        </div>
      )}
      {!state.project ? (
        <Welcome onError={state.setError} />
      ) : (
        view === 'slides' && <SlidesView version={version} />
      )}
      <StatusBar stats={state.stats} jobs={state.jobs} />
    </div>
  );
}
