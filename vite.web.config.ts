import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import path from 'node:path';

// The browser build of the renderer for the web host (`npm run web`, e2e tests): the same React app, with a bridge
// that provides `window.api` over HTTP instead of the Electron preload.
export default defineConfig({
  root: path.resolve(__dirname, 'src/renderer'),
  base: './',
  plugins: [react()],
  build: {
    outDir: path.resolve(__dirname, 'out/web'),
    emptyOutDir: true,
    rollupOptions: { input: path.resolve(__dirname, 'src/renderer/web.html') },
  },
});
