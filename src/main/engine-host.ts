/**
 * Entry of the Electron utility process that hosts the engine. It never imports `electron`: it talks to the main
 * process over `process.parentPort`, so SQLite writes, segmentation and inference never block the UI thread.
 */
import { Engine } from './engine/engine';
import { mediaResponse } from './engine/media';
import type { HostReply, HostRequest } from './relay-protocol';

interface ParentPort {
  on(event: 'message', listener: (e: { data: HostRequest }) => void): void;
  postMessage(message: HostReply): void;
}

const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;
if (!parentPort) throw new Error('engine-host must run in an Electron utility process');

const engine = new Engine({ upgradeModels: true });
engine.onEvent((event) => parentPort.postMessage({ type: 'event', event }));

parentPort.on('message', ({ data }) => {
  if (data.type === 'call') {
    engine.call(data.method, data.args).then(
      (result) => parentPort.postMessage({ type: 'result', id: data.id, ok: true, result }),
      (err: Error & { code?: string }) =>
        parentPort.postMessage({
          type: 'result',
          id: data.id,
          ok: false,
          error: { code: err.code ?? 'error', message: err.message },
        }),
    );
  } else if (data.type === 'media') {
    mediaResponse(engine, data.kind, data.mediaId, data.tile).then(
      (r) =>
        parentPort.postMessage({
          type: 'media',
          id: data.id,
          status: r.status,
          mime: r.type,
          body: typeof r.body === 'string' ? new TextEncoder().encode(r.body) : new Uint8Array(r.body),
        }),
      (err: Error) =>
        parentPort.postMessage({
          type: 'media',
          id: data.id,
          status: 500,
          mime: 'text/plain',
          body: new TextEncoder().encode(err.message),
        }),
    );
  }
});

process.on('SIGTERM', () => {
  void engine.dispose().then(() => process.exit(0));
});

parentPort.postMessage({ type: 'ready' });
