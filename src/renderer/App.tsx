import { useCallback, useEffect, useState } from 'react';
import { getApi } from './api';
import { useProjectState } from './state/useEngine';
import { ProjectContext } from './state/context';
import { undoLabels } from './state/actions';
import { isRedo, isTypingTarget, isUndo } from './state/keys';
import type { CellSource } from './state/pager';
import { StatusBar } from './components/StatusBar';
import { Welcome } from './views/Welcome';
import { SlidesView } from './views/SlidesView';
import { GalleryView } from './views/GalleryView';
import { MapView } from './views/MapView';
import { SuggestionsView } from './views/SuggestionsView';
import { ModelsView } from './views/ModelsView';
import { ImportView, droppedPaths } from './views/ImportView';
import { SettingsView } from './views/SettingsView';
import { ExportView } from './views/ExportView';
import { ReviewSessionsView } from './views/ReviewSessionsView';
import { ClassesView } from './views/ClassesView';

type View =
  | 'slides'
  | 'gallery'
  | 'map'
  | 'review'
  | 'sessions'
  | 'models'
  | 'import'
  | 'export'
  | 'settings'
  | 'classes';
const VIEWS: Array<{ id: View; label: string }> = [
  { id: 'slides', label: 'Slides' },
  { id: 'gallery', label: 'Gallery' },
  { id: 'map', label: 'Map' },
  { id: 'review', label: 'Review' },
  { id: 'sessions', label: 'Sessions' },
  { id: 'models', label: 'Models' },
  { id: 'import', label: 'Import' },
  { id: 'export', label: 'Export' },
  { id: 'settings', label: 'Settings' },
  { id: 'classes', label: 'Classes' },
];
// Alt+1 .. Alt+9, then Alt+0 for the tenth view.
const viewKey = (i: number) => String((i + 1) % 10);
const ALL_CELLS: CellSource = { kind: 'query', filter: {}, sort: 'id' };

function storedModelId(projectPath: string | undefined): number | null {
  if (!projectPath) return null;
  const v = Number(localStorage.getItem(`activeModel:${projectPath}`));
  return Number.isInteger(v) && v > 0 ? v : null;
}

export function App() {
  const state = useProjectState();
  const [view, setView] = useState<View>('slides');
  const [theme, setTheme] = useState<'light' | 'dark'>('light');
  const [gallerySource, setGallerySource] = useState<CellSource>(ALL_CELLS);
  const [importPaths, setImportPaths] = useState<string[]>([]);
  const [modelChoice, setModelChoice] = useState<{ project: string; id: number } | null>(null);
  const projectPath = state.project?.path;
  // The active model is per project and remembered across restarts in this renderer's storage.
  const activeModelId =
    modelChoice && modelChoice.project === projectPath ? modelChoice.id : storedModelId(projectPath);
  const chooseModel = (id: number) => {
    if (!projectPath) return;
    localStorage.setItem(`activeModel:${projectPath}`, String(id));
    setModelChoice({ project: projectPath, id });
  };

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

  const { notify, setError } = state;
  const hasProject = state.project != null;
  // Undo/redo and view switching work from every view; the label log is persisted, so undo survives a restart.
  const onGlobalKey = useCallback(
    (e: KeyboardEvent) => {
      if (!hasProject || isTypingTarget(e.target)) return;
      if (isUndo(e) || isRedo(e)) {
        e.preventDefault();
        void undoLabels({ notify, setError }, isRedo(e));
        return;
      }
      const i = VIEWS.findIndex((_v, j) => viewKey(j) === e.key);
      if (e.altKey && !e.ctrlKey && i >= 0) {
        e.preventDefault();
        setView(VIEWS[i].id);
      }
    },
    [hasProject, notify, setError],
  );
  useEffect(() => {
    window.addEventListener('keydown', onGlobalKey);
    return () => window.removeEventListener('keydown', onGlobalKey);
  }, [onGlobalKey]);

  const openInGallery = (s: CellSource) => {
    setGallerySource(s);
    setView('gallery');
  };

  return (
    <ProjectContext.Provider value={state}>
      <div
        className="app"
        data-testid="app-shell"
        onDragOver={(e) => {
          if (hasProject) e.preventDefault();
        }}
        onDrop={(e) => {
          if (!hasProject) return;
          e.preventDefault();
          const paths = droppedPaths(e.dataTransfer.files);
          setImportPaths(paths);
          setView('import');
          if (paths.length === 0 && e.dataTransfer.files.length > 0)
            notify(
              'Dropped files carry no path in this window: paste their folder path into the import field.',
            );
        }}
      >
        <header className="top-bar">
          <strong className="brand">RedDino Studio</strong>
          {state.project && (
            <>
              <span className="project-name" data-testid="project-name" title={state.project.path}>
                {state.project.name}
              </span>
              <nav aria-label="Views">
                {VIEWS.map((v, i) => (
                  <button
                    key={v.id}
                    type="button"
                    aria-pressed={view === v.id}
                    data-testid={`nav-${v.id}`}
                    title={`${v.label} (Alt+${viewKey(i)})`}
                    onClick={() => setView(v.id)}
                  >
                    {v.label}
                  </button>
                ))}
              </nav>
            </>
          )}
          <span className="spacer" />
          {state.project && (
            <>
              <button
                type="button"
                title="Undo last labeling (Ctrl+Z)"
                data-testid="undo"
                onClick={() => void undoLabels(state)}
              >
                Undo
              </button>
              <button
                type="button"
                title="Redo (Ctrl+Shift+Z or Ctrl+Y)"
                data-testid="redo"
                onClick={() => void undoLabels(state, true)}
              >
                Redo
              </button>
            </>
          )}
          <button
            type="button"
            onClick={toggleTheme}
            title="Switch light/dark theme"
            data-testid="theme-toggle"
          >
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
          <>
            {view === 'slides' && <SlidesView onImport={() => setView('import')} />}
            {view === 'gallery' && (
              <GalleryView source={gallerySource} onSource={setGallerySource} activeModelId={activeModelId} />
            )}
            {view === 'map' && <MapView activeModelId={activeModelId} onOpenInGallery={openInGallery} />}
            {view === 'review' && <SuggestionsView activeModelId={activeModelId} />}
            {view === 'models' && <ModelsView activeModelId={activeModelId} onActiveModel={chooseModel} />}
            {view === 'import' && (
              <ImportView
                key={importPaths.join('\n')}
                initialPaths={importPaths}
                onDone={() => setView('slides')}
              />
            )}
            {view === 'sessions' && <ReviewSessionsView />}
            {view === 'export' && <ExportView />}
            {view === 'settings' && <SettingsView onTheme={setTheme} />}
            {view === 'classes' && <ClassesView />}
          </>
        )}
        <StatusBar stats={state.stats} jobs={state.jobs} notice={state.notice} />
      </div>
    </ProjectContext.Provider>
  );
}
