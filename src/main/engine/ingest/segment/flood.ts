/**
 * Watershed of the distance map by flooding from its maxima downwards, merging a basin into its neighbour when
 * its dynamics (peak height above the saddle where they meet) is below h. This is marker-controlled watershed
 * with h-maxima markers done in one union-find pass: two touching cells stay apart when the neck between them is
 * narrower than their radius minus h, and the ridge noise of ragged outlines never seeds a spurious cell.
 */
export function floodByDynamics(
  height: Float32Array,
  mask: Uint8Array,
  width: number,
  rows: number,
  h: number,
): { labels: Int32Array; count: number; peaks: Float32Array } {
  const n = width * rows;
  const SCALE = 8;
  let maxLevel = 0;
  const level = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (!mask[i]) continue;
    const l = Math.round(height[i] * SCALE);
    level[i] = l;
    if (l > maxLevel) maxLevel = l;
  }
  // Counting sort of foreground pixels by descending level.
  const counts = new Int32Array(maxLevel + 2);
  let fg = 0;
  for (let i = 0; i < n; i++) {
    if (mask[i]) {
      counts[maxLevel - level[i] + 1]++;
      fg++;
    }
  }
  for (let l = 1; l < counts.length; l++) counts[l] += counts[l - 1];
  const order = new Int32Array(fg);
  for (let i = 0; i < n; i++) if (mask[i]) order[counts[maxLevel - level[i]]++] = i;

  const region = new Int32Array(n);
  const parent = new Int32Array(fg + 1);
  const peak = new Float32Array(fg + 1);
  let regions = 0;
  const find = (a: number): number => {
    let r = a;
    while (parent[r] !== r) r = parent[r];
    while (parent[a] !== r) {
      const next = parent[a];
      parent[a] = r;
      a = next;
    }
    return r;
  };
  const roots = new Int32Array(8);
  for (let k = 0; k < fg; k++) {
    const p = order[k];
    const x = p % width;
    const y = (p - x) / width;
    let nRoots = 0;
    for (let dy = -1; dy <= 1; dy++) {
      const yy = y + dy;
      if (yy < 0 || yy >= rows) continue;
      for (let dx = -1; dx <= 1; dx++) {
        const xx = x + dx;
        if (xx < 0 || xx >= width || (dx === 0 && dy === 0)) continue;
        const r0 = region[yy * width + xx];
        if (!r0) continue;
        const r = find(r0);
        let seen = false;
        for (let j = 0; j < nRoots; j++) if (roots[j] === r) seen = true;
        if (!seen) roots[nRoots++] = r;
      }
    }
    if (nRoots === 0) {
      regions++;
      parent[regions] = regions;
      peak[regions] = height[p];
      region[p] = regions;
      continue;
    }
    let best = roots[0];
    for (let j = 1; j < nRoots; j++) if (peak[roots[j]] > peak[best]) best = roots[j];
    for (let j = 0; j < nRoots; j++) {
      const r = roots[j];
      if (r !== best && peak[r] - height[p] < h) parent[r] = best;
    }
    region[p] = best;
  }
  const compact = new Int32Array(regions + 1);
  let count = 0;
  const peaks: number[] = [0];
  for (let r = 1; r <= regions; r++) {
    if (find(r) === r) {
      compact[r] = ++count;
      peaks.push(peak[r]);
    }
  }
  const labels = new Int32Array(n);
  for (let k = 0; k < fg; k++) {
    const p = order[k];
    labels[p] = compact[find(region[p])];
  }
  return { labels, count, peaks: Float32Array.from(peaks) };
}
