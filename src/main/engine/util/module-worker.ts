import { Worker } from 'node:worker_threads';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Starts a worker thread running the module `name` that sits beside the caller. Workers do not inherit tsx's
 * loader, so under tsx (CLI, tests, web host) a small eval'd bootstrap registers tsx inside the worker and then
 * imports the `.ts` file; in the bundled desktop build the same name resolves to the emitted `.js` entry beside
 * the bundle (electron.vite.config.ts lists it).
 */
export function startModuleWorker(callerUrl: string, name: string, workerData?: unknown): Worker {
  const dir = path.dirname(fileURLToPath(callerUrl));
  const ts = path.join(dir, `${name}.ts`);
  if (fs.existsSync(ts)) {
    const url = pathToFileURL(ts).href;
    const bootstrap = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); })
      .catch((e) => { process.nextTick(() => { throw e; }); });`;
    return new Worker(bootstrap, { eval: true, workerData });
  }
  const js = path.join(dir, `${name}.js`);
  if (!fs.existsSync(js)) throw new Error(`worker module ${name} not found next to ${dir}`);
  return new Worker(js, { workerData });
}
