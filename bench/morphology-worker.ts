/**
 * One worker of bench/morphology.ts's all-cores measurement: loads its share of a dataset's crops (every
 * `parts`-th crop from `part`), supplies each mask as ingest does, warms up, then on 'go' computes the features of
 * its crops `passes` times and reports how many it did.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { maskFromCrop, morphologyFeaturesBatch } from '../src/main/engine/embed/morphology';
import { type BenchDataset, loadDataset } from './morphology-data';

const { dataset, dataDir, part, parts, passes } = workerData as {
  dataset: BenchDataset;
  dataDir: string;
  part: number;
  parts: number;
  passes: number;
};
const cells = await loadDataset(dataset, dataDir);
const mine = cells.crops.filter((_, i) => i % parts === part).map((c) => ({ ...c, mask: maskFromCrop(c) }));
morphologyFeaturesBatch(mine.slice(0, 200));
parentPort!.once('message', () => {
  for (let p = 0; p < passes; p++) morphologyFeaturesBatch(mine);
  parentPort!.postMessage({ cells: mine.length * passes });
});
parentPort!.postMessage({ ready: true });
