import { useEffect, useState } from 'react';
import { getApi } from '../api';
import { useProject } from '../state/context';
import { errorText } from '../state/actions';

type Provider = 'auto' | 'cpu' | 'cuda' | 'dml' | 'coreml';

/** Annotator name (written into every label), inference execution provider and theme. */
export function SettingsView({ onTheme }: { onTheme: (t: 'light' | 'dark') => void }) {
  const state = useProject();
  const [annotator, setAnnotator] = useState('');
  const [provider, setProvider] = useState<Provider>('auto');
  const [theme, setTheme] = useState<'light' | 'dark'>('light');
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    void getApi()
      .call('settings.get', {})
      .then((s) => {
        setAnnotator(s.annotator);
        setProvider(s.provider as Provider);
        setTheme(s.theme);
      });
  }, []);
  const save = async () => {
    try {
      const s = await getApi().call('settings.set', {
        annotator: annotator.trim() || undefined,
        provider,
        theme,
      });
      onTheme(s.theme);
      setSaved(true);
    } catch (e) {
      state.setError(errorText(e));
    }
  };
  return (
    <main className="view settings-view" data-testid="settings-view">
      <h2>Settings</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <label className="field">
          Annotator name (recorded with every label)
          <input
            data-testid="settings-annotator"
            value={annotator}
            onChange={(e) => {
              setAnnotator(e.target.value);
              setSaved(false);
            }}
          />
        </label>
        <label className="field">
          Execution provider for the ViT
          <select
            data-testid="settings-provider"
            value={provider}
            onChange={(e) => {
              setProvider(e.target.value as Provider);
              setSaved(false);
            }}
          >
            <option value="auto">auto (GPU when present, else CPU)</option>
            <option value="cpu">CPU</option>
            <option value="cuda">CUDA (NVIDIA)</option>
            <option value="dml">DirectML (Windows)</option>
            <option value="coreml">Core ML (macOS)</option>
          </select>
        </label>
        <label className="field">
          Theme
          <select
            data-testid="settings-theme"
            value={theme}
            onChange={(e) => {
              setTheme(e.target.value as 'light' | 'dark');
              setSaved(false);
            }}
          >
            <option value="light">light</option>
            <option value="dark">dark</option>
          </select>
        </label>
        <div className="row">
          <button type="submit" className="primary" data-testid="settings-save">
            Save
          </button>
          {saved && <span data-testid="settings-saved">Saved.</span>}
        </div>
      </form>
    </main>
  );
}
