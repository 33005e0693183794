import { parentPort } from 'node:worker_threads';
import { REFRESH_PROBE_OPTIONS, trainLinearProbe, type LinearProbe } from '../learn/linear-probe';

interface ProbeTask {
  id: number;
  x: Float32Array;
  y: Int32Array;
  dims: number;
  initial?: LinearProbe;
}

// Training runs here so the engine's event loop keeps answering the UI (labels, pages, undo) meanwhile.
parentPort!.on('message', (t: ProbeTask) => {
  try {
    const probe = trainLinearProbe(t.x, t.y, t.dims, { ...REFRESH_PROBE_OPTIONS, initial: t.initial });
    parentPort!.postMessage({ id: t.id, probe });
  } catch (err) {
    parentPort!.postMessage({ id: t.id, error: (err as Error).message });
  }
});
parentPort!.postMessage({ ready: true });
