import { parentPort } from 'node:worker_threads';
import { processImage, type ProcessOptions, type ProcessResult } from './process-image';

interface Task {
  id: number;
  path: string;
  opts: ProcessOptions;
}

parentPort!.on('message', (task: Task) => {
  void processImage(task.path, task.opts).then(
    (result) => {
      const transfer: ArrayBuffer[] = [];
      if (result.ok) {
        transfer.push(result.morphology.buffer as ArrayBuffer, ...result.buffers);
      }
      parentPort!.postMessage({ id: task.id, result }, transfer);
    },
    (err: Error) => {
      const result: ProcessResult = {
        ok: false,
        path: task.path,
        reason: 'unreadable',
        message: err.message,
      };
      parentPort!.postMessage({ id: task.id, result });
    },
  );
});
parentPort!.postMessage({ ready: true });
