/**
 * Resampling of a ViT's absolute positional embedding to another patch grid, as timm does when a model is
 * created at a different image size than its checkpoint (timm.layers.resample_abs_pos_embed:
 * F.interpolate(mode='bicubic', antialias=True, align_corners=False)). This is PyTorch's antialiased
 * bicubic kernel: Keys cubic with a = -0.5, support widened by the downscale factor, weights normalized.
 */

function cubicAa(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

interface AxisWeights {
  start: Int32Array;
  count: Int32Array;
  weights: Float64Array[];
}

function axisWeights(inSize: number, outSize: number): AxisWeights {
  const scale = inSize / outSize;
  const support = scale >= 1 ? 2 * scale : 2;
  const invScale = scale >= 1 ? 1 / scale : 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights: Float64Array[] = [];
  for (let i = 0; i < outSize; i++) {
    const center = scale * (i + 0.5);
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xsize = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const w = new Float64Array(xsize);
    let total = 0;
    for (let j = 0; j < xsize; j++) {
      w[j] = cubicAa((j + xmin - center + 0.5) * invScale);
      total += w[j];
    }
    if (total !== 0) for (let j = 0; j < xsize; j++) w[j] /= total;
    start[i] = xmin;
    count[i] = xsize;
    weights.push(w);
  }
  return { start, count, weights };
}

/**
 * Resamples the patch part of a positional embedding, laid out [oldGrid * oldGrid, dims] row-major
 * (token = row * grid + col), to [newGrid * newGrid, dims].
 */
export function resamplePatchPosEmbed(
  pos: Float32Array,
  oldGrid: number,
  newGrid: number,
  dims: number,
): Float32Array {
  if (pos.length !== oldGrid * oldGrid * dims) {
    throw new Error(`positional embedding has ${pos.length} values, expected ${oldGrid}x${oldGrid}x${dims}`);
  }
  if (oldGrid === newGrid) return pos.slice();
  const ax = axisWeights(oldGrid, newGrid);
  // Columns first, then rows; the kernel is separable.
  const tmp = new Float64Array(oldGrid * newGrid * dims);
  for (let r = 0; r < oldGrid; r++) {
    for (let c = 0; c < newGrid; c++) {
      const w = ax.weights[c];
      const o = (r * newGrid + c) * dims;
      for (let j = 0; j < ax.count[c]; j++) {
        const src = (r * oldGrid + ax.start[c] + j) * dims;
        const wj = w[j];
        for (let d = 0; d < dims; d++) tmp[o + d] += wj * pos[src + d];
      }
    }
  }
  const out = new Float32Array(newGrid * newGrid * dims);
  const acc = new Float64Array(dims);
  for (let r = 0; r < newGrid; r++) {
    const w = ax.weights[r];
    for (let c = 0; c < newGrid; c++) {
      acc.fill(0);
      for (let j = 0; j < ax.count[r]; j++) {
        const src = ((ax.start[r] + j) * newGrid + c) * dims;
        const wj = w[j];
        for (let d = 0; d < dims; d++) acc[d] += wj * tmp[src + d];
      }
      out.set(acc, (r * newGrid + c) * dims);
    }
  }
  return out;
}
