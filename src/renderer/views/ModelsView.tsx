import { useEffect, useState } from 'react';
import type { ModelInfo } from '../../shared/domain';
import { getApi } from '../api';
import { useProject } from '../state/context';
import { errorText } from '../state/actions';
import { JobProgressLine } from '../components/JobProgressLine';
import { formatCount } from '../state/format';

const ARCHS = ['', 'vit_small_patch14_dinov2', 'vit_base_patch14_dinov2', 'vit_large_patch14_dinov2'];

/** Models in the project: add RedDino from a folder or ONNX file, pick the active one, embed, refresh predictions. */
export function ModelsView({
  activeModelId,
  onActiveModel,
}: {
  activeModelId: number | null;
  onActiveModel: (id: number) => void;
}) {
  const state = useProject();
  const { setError, dataVersion } = state;
  const api = getApi();
  const [models, setModels] = useState<ModelInfo[]>([]);
  const [path, setPath] = useState('');
  const [name, setName] = useState('');
  const [arch, setArch] = useState('');
  const [adding, setAdding] = useState(false);
  const [embedJob, setEmbedJob] = useState<number | null>(null);
  const [reloadTick, setReloadTick] = useState(0);
  useEffect(() => {
    void api
      .call('models.list', {})
      .then(setModels)
      .catch((e: unknown) => setError(errorText(e)));
  }, [api, dataVersion, reloadTick, setError]);
  const job = embedJob != null ? state.jobs.get(embedJob) : undefined;
  const active = activeModelId ?? models[0]?.id ?? null;
  const cells = state.stats?.cells ?? 0;

  const add = async () => {
    if (!path.trim())
      return state.setError('Enter the folder with model.safetensors + config.json, or an .onnx file.');
    setAdding(true);
    try {
      const m = await api.call('models.add', {
        path: path.trim(),
        name: name.trim() || undefined,
        arch: arch || undefined,
      });
      onActiveModel(m.id);
      setPath('');
      setName('');
      setReloadTick((t) => t + 1);
    } catch (e) {
      state.setError(errorText(e));
    } finally {
      setAdding(false);
    }
  };
  const embed = async (modelId: number) => {
    try {
      setEmbedJob((await api.call('embed.start', { modelId })).jobId);
    } catch (e) {
      state.setError(errorText(e));
    }
  };
  const predict = async (modelId: number) => {
    try {
      const r = await api.call('predict.refresh', { modelId });
      state.notify(
        r.runId ? `Predictions refreshed (run ${r.runId}).` : 'Label a few cells of two classes first.',
      );
    } catch (e) {
      state.setError(errorText(e));
    }
  };
  const pick = async () => {
    const p = await api.pickPaths?.({ directory: true, title: 'RedDino model folder' });
    if (p?.[0]) setPath(p[0]);
  };
  return (
    <main className="view models-view" data-testid="models-view">
      <h2>Models</h2>
      <table className="table">
        <thead>
          <tr>
            <th>Active</th>
            <th>Model</th>
            <th>Kind</th>
            <th>Dims</th>
            <th>Embedded</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {models.map((m) => (
            <tr key={m.id} data-testid="model-row">
              <td>
                <input
                  type="radio"
                  name="active-model"
                  checked={active === m.id}
                  onChange={() => onActiveModel(m.id)}
                  aria-label={`Use ${m.name}`}
                  data-testid={`model-active-${m.name}`}
                />
              </td>
              <td>{m.name}</td>
              <td>
                {m.kind}
                {m.arch ? ` · ${m.arch}` : ''}
              </td>
              <td>{m.dims}</td>
              <td>
                {formatCount(m.embeddedCells)} / {formatCount(cells)}
                <progress
                  value={m.embeddedCells}
                  max={Math.max(1, cells)}
                  aria-label={`${m.name} embedded`}
                />
              </td>
              <td>
                <span className="row-inline">
                  <button type="button" data-testid={`embed-${m.name}`} onClick={() => void embed(m.id)}>
                    {m.embeddedCells >= cells && cells > 0 ? 'Re-check' : 'Embed cells'}
                  </button>
                  <button type="button" onClick={() => void predict(m.id)}>
                    Refresh predictions
                  </button>
                </span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {job && (
        <div className="job-panel" data-testid="embed-progress">
          <JobProgressLine job={job} />
        </div>
      )}
      <h3>Add RedDino (or another DINOv2 ViT)</h3>
      <p className="muted">
        A folder with <code>model.safetensors</code> and <code>config.json</code> (timm checkpoint), or a
        ready
        <code> .onnx</code> file. Pickle checkpoints (.pth, .bin) are refused: they can run code.
      </p>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          void add();
        }}
      >
        <label className="field grow">
          Path
          <input data-testid="model-path" value={path} onChange={(e) => setPath(e.target.value)} />
        </label>
        {api.pickPaths && (
          <button type="button" onClick={() => void pick()}>
            Choose…
          </button>
        )}
        <label className="field">
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="RedDino small" />
        </label>
        <label className="field">
          Architecture
          <select value={arch} onChange={(e) => setArch(e.target.value)}>
            {ARCHS.map((a) => (
              <option key={a} value={a}>
                {a || 'from config.json'}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary" disabled={adding} data-testid="model-add">
          {adding ? 'Adding…' : 'Add model'}
        </button>
      </form>
    </main>
  );
}
