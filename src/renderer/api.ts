import type { RendererApi } from '../shared/api';

declare global {
  interface Window {
    api: RendererApi;
  }
}

/** The renderer's only door to the engine; it does not know whether Electron or the web host is behind it. */
export function getApi(): RendererApi {
  return window.api;
}
