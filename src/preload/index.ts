/** Exposes one narrow, typed object as `window.api`. The renderer never sees ipcRenderer itself. */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import type { ApiArgs, ApiMethod, ApiResults, EngineEvent, RendererApi } from '../shared/api';

type CallEnvelope = { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } };

const api = {
  async call<M extends ApiMethod>(method: M, args: ApiArgs<M>): Promise<ApiResults[M]> {
    const r = (await ipcRenderer.invoke('api:call', method, args)) as CallEnvelope;
    if (!r.ok) {
      const err = new Error(r.error.message);
      err.name = r.error.code;
      throw err;
    }
    return r.result as ApiResults[M];
  },
  onEvent(listener: (e: EngineEvent) => void): () => void {
    const wrapped = (_e: IpcRendererEvent, payload: EngineEvent) => listener(payload);
    ipcRenderer.on('api:event', wrapped);
    return () => ipcRenderer.removeListener('api:event', wrapped);
  },
  mediaUrl(kind: 'thumb' | 'image', id: number): string {
    return `cell://${kind}/${id}`;
  },
  tileUrl(imageId: number, level: number, x: number, y: number): string {
    return `cell://tile/${imageId}/${level}/${x}/${y}`;
  },
  pickPaths(opts: { directory: boolean; title: string }): Promise<string[]> {
    return ipcRenderer.invoke('dialog:pick', opts) as Promise<string[]>;
  },
  pathsForFiles(files: File[]): string[] {
    return files.map((f) => webUtils.getPathForFile(f)).filter(Boolean);
  },
} satisfies RendererApi;

contextBridge.exposeInMainWorld('api', api);
