import { defineConfig, externalizeDepsPlugin } from 'electron-vite';
import react from '@vitejs/plugin-react';
import path from 'node:path';

export default defineConfig({
  main: {
    plugins: [externalizeDepsPlugin()],
    build: {
      rollupOptions: {
        input: {
          index: path.resolve(__dirname, 'src/main/index.ts'),
          // The engine runs in an Electron utility process so SQLite and inference never block the main thread.
          'engine-host': path.resolve(__dirname, 'src/main/engine-host.ts'),
          // Worker threads load these by name beside the bundle (src/main/engine/util/module-worker.ts).
          'ingest-worker': path.resolve(__dirname, 'src/main/engine/ingest/ingest-worker.ts'),
          'probe-worker': path.resolve(__dirname, 'src/main/engine/services/probe-worker.ts'),
        },
      },
    },
  },
  preload: {
    plugins: [externalizeDepsPlugin()],
    build: {
      rollupOptions: {
        input: { index: path.resolve(__dirname, 'src/preload/index.ts') },
        // A sandboxed preload must be a single CommonJS file.
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: path.resolve(__dirname, 'src/renderer'),
    plugins: [react()],
    build: {
      rollupOptions: { input: path.resolve(__dirname, 'src/renderer/index.html') },
    },
  },
});
