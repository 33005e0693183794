import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { boxIou, type CandidateScores, type RescoreModel } from './rescore';
import type { CellKind, RgbImage } from './types';
import { resourcePath } from '../../util/resources';

/** The learned detector sees fields resized so that a typical RBC is this many px across. */
export const DETECTOR_CELL_DIAMETER = 24;
const STRIDE = 4;
const KINDS: CellKind[] = ['wbc', 'rbc', 'platelet'];

export interface CellDetection {
  kind: CellKind;
  /** x, y, w, h in full-resolution image px. */
  bbox: [number, number, number, number];
  score: number;
}

export interface DetectOptions {
  /** Typical RBC diameter in px when known (skips the scale search). */
  cellDiameter?: number;
  /** First guess for the scale search; without one, four scales from 1/4 to 1/20 of the short side are tried. */
  diameterGuess?: number;
  /** Minimum heatmap peak to report a cell. */
  threshold?: number;
  signal?: AbortSignal;
}

export interface FieldDetections {
  detections: CellDetection[];
  /** Typical RBC diameter in full-resolution px that the final pass ran at. */
  cellDiameter: number;
  /**
   * With a companion detector: each detection's peak in both detectors, for the rescorer that decides, once
   * the cells have contours, which RBC candidates are kept (detections then go down to CANDIDATE_THRESHOLD).
   */
  scores?: CandidateScores[];
  rescore?: RescoreModel;
}

/** Peak at which either detector's proposals become candidates when a rescorer makes the final call. */
export const CANDIDATE_THRESHOLD = 0.2;

/**
 * `<model>.json` beside a detector may name a companion detector and a rescoring model: the shipped pair is a
 * detector trained long on txl-dev boxes (precise boxes, few false cells) and the earlier, shorter-trained one
 * that still finds the small dense cells (spherocytes, microcytes) txl-dev's annotators left out.
 */
interface DetectorSidecar {
  companion?: string;
  rescore?: RescoreModel;
}

/** The primary detector shipped with the app (its pair is named in detector-cells.json beside it). */
export function defaultDetectorPath(): string {
  return resourcePath('models/detector-cells.onnx');
}

/**
 * Tiny CenterNet-style CNN: per-class centre heatmaps, box sizes and centre offsets at stride 4, run by
 * onnxruntime at a normalised cell scale. A field of unknown magnification is run twice: once at a guessed
 * scale, then at the scale its own median RBC box implies (the size head is trained over 0.55x to 1.8x).
 */
export class CellDetector {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly companion: CellDetector | null = null,
    private readonly rescore: RescoreModel | null = null,
  ) {}

  /** With `alone`, a `<model>.json` companion beside the model is ignored. */
  static async load(modelPath = defaultDetectorPath(), threads = 1, alone = false): Promise<CellDetector> {
    // One intra-op thread by default: ingest parallelises across fields, which scales better on few cores.
    const session = await ort.InferenceSession.create(modelPath, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    const sidecarPath = modelPath.replace(/\.onnx$/i, '.json');
    if (!alone && sidecarPath !== modelPath && fs.existsSync(sidecarPath)) {
      const sidecar = JSON.parse(fs.readFileSync(sidecarPath, 'utf8')) as DetectorSidecar;
      if (sidecar.companion && sidecar.rescore) {
        const companionPath = path.resolve(path.dirname(modelPath), sidecar.companion);
        const companion = await CellDetector.load(companionPath, threads, true);
        return new CellDetector(session, companion, sidecar.rescore);
      }
    }
    return new CellDetector(session);
  }

  /**
   * Two detectors run as one: the primary's scale and candidates, the companion's extra candidates. Without a
   * rescorer every candidate down to CANDIDATE_THRESHOLD is returned with both peaks (rescorer training).
   */
  static pair(primary: CellDetector, companion: CellDetector, rescore: RescoreModel | null): CellDetector {
    return new CellDetector(primary.session, companion, rescore);
  }

  /** Whether a companion detector comes with this one. */
  get isPair(): boolean {
    return this.companion !== null;
  }

  async detect(img: RgbImage, opts: DetectOptions = {}): Promise<FieldDetections> {
    if (!this.companion) return (await this.detectAlone(img, opts)).found;
    const primary = await this.detectAlone(img, { ...opts, threshold: CANDIDATE_THRESHOLD });
    opts.signal?.throwIfAborted();
    // The companion runs at the primary's final scale, on the same resized input (its own scale search when the
    // primary found no RBC at any scale).
    const other = primary.input
      ? await this.companion.runOnInput(img, primary.input, CANDIDATE_THRESHOLD)
      : (await this.companion.detectAlone(img, { threshold: CANDIDATE_THRESHOLD })).found.detections;
    const merged = mergeCandidates(primary.found.detections, other);
    return {
      ...merged,
      cellDiameter: primary.found.cellDiameter,
      ...(this.rescore ? { rescore: this.rescore } : {}),
    };
  }

  /** This detector's cells, and the input of the pass they came from (null: no scale found any RBC). */
  private async detectAlone(
    img: RgbImage,
    opts: DetectOptions,
  ): Promise<{ found: FieldDetections; input: DetectorInput | null }> {
    const threshold = opts.threshold ?? 0.3;
    if (opts.cellDiameter) {
      const input = detectorInput(img, opts.cellDiameter);
      const detections = await this.runOnInput(img, input, threshold);
      return { found: { detections, cellDiameter: opts.cellDiameter }, input };
    }
    let diameter = opts.diameterGuess ?? 0;
    let detections: CellDetection[] = [];
    let input: DetectorInput | null = null;
    if (diameter) {
      input = detectorInput(img, diameter);
      detections = await this.runOnInput(img, input, threshold);
    } else {
      // Unknown magnification: try cells of 1/4 to 1/20 of the short side and keep the scale whose RBCs are
      // found most confidently at the size the network was trained for.
      let bestFit = -Infinity;
      const side = Math.min(img.width, img.height);
      for (const fraction of [4, 7, 12, 20]) {
        opts.signal?.throwIfAborted();
        const candidate = side / fraction;
        const candidateInput = detectorInput(img, candidate);
        const found = await this.runOnInput(img, candidateInput, threshold);
        const fit = scaleFit(found, candidate);
        if (fit > bestFit) {
          bestFit = fit;
          diameter = candidate;
          detections = found;
          input = candidateInput;
        }
      }
    }
    // Up to two refinements; each moves the scale to where the median RBC box is DETECTOR_CELL_DIAMETER wide.
    for (let pass = 0; pass < 2; pass++) {
      opts.signal?.throwIfAborted();
      const sizes = detections
        .filter((d) => d.kind === 'rbc' && d.score >= 0.4)
        .map((d) => Math.sqrt(d.bbox[2] * d.bbox[3]))
        .sort((a, b) => a - b);
      if (sizes.length < 2) break;
      const measured = sizes[Math.floor(sizes.length / 2)];
      if (Math.abs(Math.log(measured / diameter)) < Math.log(1.2)) break;
      diameter = measured;
      input = detectorInput(img, diameter);
      detections = await this.runOnInput(img, input, threshold);
    }
    return { found: { detections, cellDiameter: diameter }, input };
  }

  private async runOnInput(img: RgbImage, inp: DetectorInput, threshold: number): Promise<CellDetection[]> {
    const { data: input, w, h, W, H } = inp;
    const feeds = { image: new ort.Tensor('float32', input, [1, 3, H, W]) };
    const out = await this.session.run(feeds);
    const heat = out.heatmap.data as Float32Array;
    const size = out.size.data as Float32Array;
    const offset = out.offset.data as Float32Array;
    const ow = W / STRIDE;
    const oh = H / STRIDE;
    const plane = ow * oh;
    const sx = img.width / w;
    const sy = img.height / h;
    const found: CellDetection[] = [];
    for (let c = 0; c < 3; c++) {
      const base = c * plane;
      for (let y = 0; y < oh; y++) {
        for (let x = 0; x < ow; x++) {
          const v = heat[base + y * ow + x];
          if (v < threshold) continue;
          let isPeak = true;
          for (let dy = -1; dy <= 1 && isPeak; dy++) {
            for (let dx = -1; dx <= 1; dx++) {
              const yy = y + dy;
              const xx = x + dx;
              if ((dx || dy) && yy >= 0 && xx >= 0 && yy < oh && xx < ow && heat[base + yy * ow + xx] > v) {
                isPeak = false;
                break;
              }
            }
          }
          if (!isPeak) continue;
          const k = y * ow + x;
          const cx = (x + offset[k]) * STRIDE;
          const cy = (y + offset[plane + k]) * STRIDE;
          const bw = Math.exp(size[k]) * DETECTOR_CELL_DIAMETER;
          const bh = Math.exp(size[plane + k]) * DETECTOR_CELL_DIAMETER;
          // Clip to the image: cells cut by the border are annotated (and useful) up to the edge only.
          const x0 = Math.max(0, (cx - bw / 2) * sx);
          const y0 = Math.max(0, (cy - bh / 2) * sy);
          const x1 = Math.min(img.width, (cx + bw / 2) * sx);
          const y1 = Math.min(img.height, (cy + bh / 2) * sy);
          if (x1 - x0 < 1 || y1 - y0 < 1) continue;
          found.push({ kind: KINDS[c], bbox: [x0, y0, x1 - x0, y1 - y0], score: v });
        }
      }
    }
    return suppressCrossClass(found);
  }
}

/** A field resized so that a cell of `diameter` px is DETECTOR_CELL_DIAMETER px across, as planar floats. */
interface DetectorInput {
  data: Float32Array;
  /** The resized field's size, and the padded size (multiples of 8) the network sees. */
  w: number;
  h: number;
  W: number;
  H: number;
}

function detectorInput(img: RgbImage, diameter: number): DetectorInput {
  const s = DETECTOR_CELL_DIAMETER / diameter;
  const w = Math.max(8, Math.round(img.width * s));
  const h = Math.max(8, Math.round(img.height * s));
  const W = Math.ceil(w / 8) * 8;
  const H = Math.ceil(h / 8) * 8;
  return { data: resizeToPlanar(img, w, h, W, H), w, h, W, H };
}

/**
 * The primary detector's candidates, each with the companion's peak for the same cell (same kind, IoU >= 0.5),
 * then the companion's candidates that overlap none of the primary's (IoU < 0.3).
 */
export function mergeCandidates(
  primary: readonly CellDetection[],
  companion: readonly CellDetection[],
): { detections: CellDetection[]; scores: CandidateScores[] } {
  const detections: CellDetection[] = [];
  const scores: CandidateScores[] = [];
  for (const d of primary) {
    let other = 0;
    for (const c of companion)
      if (c.kind === d.kind && boxIou(c.bbox, d.bbox) >= 0.5) other = Math.max(other, c.score);
    detections.push(d);
    scores.push({ primary: d.score, companion: other });
  }
  for (const c of companion) {
    if (primary.some((d) => boxIou(d.bbox, c.bbox) >= 0.3)) continue;
    detections.push(c);
    scores.push({ primary: 0, companion: c.score });
  }
  return { detections, scores };
}

/**
 * How well a scale suits a field: mean peak of the five strongest RBC detections, less the log-distance between
 * their median size and the trained size (predictions far off scale are confident on fragments and blobs).
 */
function scaleFit(found: CellDetection[], diameter: number): number {
  const rbcs = found.filter((d) => d.kind === 'rbc').sort((a, b) => b.score - a.score);
  if (rbcs.length === 0) return -Infinity;
  const top = rbcs.slice(0, 5);
  const meanScore = top.reduce((a, d) => a + d.score, 0) / 5;
  const sizes = top.map((d) => Math.sqrt(d.bbox[2] * d.bbox[3])).sort((a, b) => a - b);
  const off = Math.abs(Math.log(sizes[Math.floor(sizes.length / 2)] / diameter));
  return meanScore - 0.5 * off;
}

/** A cell found as two classes at one spot (an RBC under a platelet peak, say) keeps its stronger reading. */
function suppressCrossClass(dets: CellDetection[]): CellDetection[] {
  dets.sort((a, b) => b.score - a.score);
  const kept: CellDetection[] = [];
  for (const d of dets) {
    const cx = d.bbox[0] + d.bbox[2] / 2;
    const cy = d.bbox[1] + d.bbox[3] / 2;
    const clash = kept.some((k) => {
      if (k.kind === d.kind) return false;
      const kx = k.bbox[0] + k.bbox[2] / 2;
      const ky = k.bbox[1] + k.bbox[3] / 2;
      const reach = 0.25 * Math.min(Math.max(k.bbox[2], k.bbox[3]), Math.max(d.bbox[2], d.bbox[3]));
      return Math.hypot(cx - kx, cy - ky) < reach;
    });
    if (!clash) kept.push(d);
  }
  return kept;
}

/** Math.fround(v / 255) for every byte: what a Float32Array of data / 255 holds, without building one. */
const UNIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/**
 * RGB bytes -> planar float [0, 1] of size w x h (area-averaged when shrinking, bilinear otherwise), padded to
 * W x H by repeating the last row and column. Column taps are computed once per column, and without a box
 * prefilter (k = 1) the bytes are read straight through UNIT instead of from a float copy of the image.
 */
function resizeToPlanar(img: RgbImage, w: number, h: number, W: number, H: number): Float32Array {
  const { data, width, height } = img;
  // Box prefilter by the integer part of the shrink factor keeps small scales from aliasing.
  const k = Math.max(1, Math.floor(Math.min(width / w, height / h)));
  const bw = Math.ceil(width / k);
  const bh = Math.ceil(height / k);
  let box: Float32Array | null = null;
  if (k > 1) {
    box = new Float32Array(bw * bh * 3);
    const cnt = new Float32Array(bw * bh);
    const colBox = new Int32Array(width);
    for (let x = 0; x < width; x++) colBox[x] = (x / k) | 0;
    for (let y = 0; y < height; y++) {
      const row = ((y / k) | 0) * bw;
      for (let x = 0; x < width; x++) {
        const q = row + colBox[x];
        const p = (y * width + x) * 3;
        box[q * 3] += data[p];
        box[q * 3 + 1] += data[p + 1];
        box[q * 3 + 2] += data[p + 2];
        cnt[q]++;
      }
    }
    for (let q = 0; q < cnt.length; q++) {
      const norm = 1 / (255 * cnt[q]);
      box[q * 3] *= norm;
      box[q * 3 + 1] *= norm;
      box[q * 3 + 2] *= norm;
    }
  }
  const out = new Float32Array(3 * W * H);
  const plane = W * H;
  const fx = width / k / w;
  const fy = height / k / h;
  const col0 = new Int32Array(W);
  const col1 = new Int32Array(W);
  const colT = new Float64Array(W);
  for (let x = 0; x < W; x++) {
    const sxf = Math.min(bw - 1, Math.max(0, (Math.min(x, w - 1) + 0.5) * fx - 0.5));
    const x0 = Math.floor(sxf);
    col0[x] = x0 * 3;
    col1[x] = Math.min(bw - 1, x0 + 1) * 3;
    colT[x] = sxf - x0;
  }
  const plane2 = 2 * plane;
  for (let y = 0; y < H; y++) {
    const syf = Math.min(bh - 1, Math.max(0, (Math.min(y, h - 1) + 0.5) * fy - 0.5));
    const y0 = Math.floor(syf);
    const y1 = Math.min(bh - 1, y0 + 1);
    const ty = syf - y0;
    const uy = 1 - ty;
    const r0 = y0 * bw * 3;
    const r1 = y1 * bw * 3;
    const o0 = y * W;
    // The same expression per channel in both branches: (a (1 - tx) + b tx) (1 - ty) + (c (1 - tx) + d tx) ty.
    if (box) {
      for (let x = 0; x < W; x++) {
        const tx = colT[x];
        const ux = 1 - tx;
        const a = r0 + col0[x];
        const b = r0 + col1[x];
        const c = r1 + col0[x];
        const d = r1 + col1[x];
        const o = o0 + x;
        out[o] = (box[a] * ux + box[b] * tx) * uy + (box[c] * ux + box[d] * tx) * ty;
        out[o + plane] = (box[a + 1] * ux + box[b + 1] * tx) * uy + (box[c + 1] * ux + box[d + 1] * tx) * ty;
        out[o + plane2] = (box[a + 2] * ux + box[b + 2] * tx) * uy + (box[c + 2] * ux + box[d + 2] * tx) * ty;
      }
    } else {
      for (let x = 0; x < W; x++) {
        const tx = colT[x];
        const ux = 1 - tx;
        const a = r0 + col0[x];
        const b = r0 + col1[x];
        const c = r1 + col0[x];
        const d = r1 + col1[x];
        const o = o0 + x;
        out[o] =
          (UNIT[data[a]] * ux + UNIT[data[b]] * tx) * uy + (UNIT[data[c]] * ux + UNIT[data[d]] * tx) * ty;
        out[o + plane] =
          (UNIT[data[a + 1]] * ux + UNIT[data[b + 1]] * tx) * uy +
          (UNIT[data[c + 1]] * ux + UNIT[data[d + 1]] * tx) * ty;
        out[o + plane2] =
          (UNIT[data[a + 2]] * ux + UNIT[data[b + 2]] * tx) * uy +
          (UNIT[data[c + 2]] * ux + UNIT[data[d + 2]] * tx) * ty;
      }
    }
  }
  return out;
}
