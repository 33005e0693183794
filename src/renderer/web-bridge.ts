/**
 * `window.api` for the browser host: the same RendererApi the Electron preload exposes, carried over HTTP to the
 * local web host (POST /api/call, server-sent events on /api/events, images under /media).
 */
import type { ApiArgs, ApiMethod, ApiResults, EngineEvent, RendererApi } from '../shared/api';
import { decodeWire, encodeWire } from '../shared/wire';

export function createWebBridge(base = ''): RendererApi {
  const listeners = new Set<(e: EngineEvent) => void>();
  let source: EventSource | null = null;
  const connect = () => {
    source = new EventSource(`${base}/api/events`);
    source.onmessage = (m: MessageEvent<string>) => {
      const e = decodeWire(m.data) as EngineEvent;
      for (const l of listeners) l(e);
    };
  };
  return {
    async call<M extends ApiMethod>(method: M, args: ApiArgs<M>): Promise<ApiResults[M]> {
      const res = await fetch(`${base}/api/call`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: encodeWire({ method, args }),
      });
      const r = decodeWire(await res.text()) as
        { ok: true; result: ApiResults[M] } | { ok: false; error: { code: string; message: string } };
      if (!r.ok) {
        const err = new Error(r.error.message);
        err.name = r.error.code;
        throw err;
      }
      return r.result;
    },
    onEvent(listener) {
      if (!source) connect();
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    mediaUrl(kind, id) {
      return `${base}/media/${kind}/${id}`;
    },
    tileUrl(imageId, level, x, y) {
      return `${base}/media/tile/${imageId}/${level}/${x}/${y}`;
    },
    pickPaths: null,
  };
}
