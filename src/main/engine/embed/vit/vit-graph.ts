import {
  type OnnxAttribute,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  TensorDataType,
  type TensorDataTypeCode,
} from './onnx-proto';
import { resamplePatchPosEmbed } from './pos-embed';

/**
 * ONNX graph (opset 17) of a timm DINOv2 ViT that outputs the CLS token after the final LayerNorm.
 *
 * The residual stream is kept as a 2-D [batch * tokens, dims] matrix so every linear layer is one large
 * MatMul. Exact constant folds: the attention scale goes into the q rows of qkv, LayerScale gammas into
 * proj / fc2, the patch-embedding bias into the patch positional embedding. The last block computes
 * attention, MLP and final norm for the CLS token only: the other tokens' outputs are never read.
 */

export type VitMlpKind = 'gelu' | 'swiglu';

export interface VitArchitecture {
  arch: string;
  dims: number;
  depth: number;
  heads: number;
  patchSize: number;
  inputSize: number;
  numRegisterTokens: number;
  /** Tokens before the patches that the positional embedding covers: 0 (timm no_embed_class) or 1 + registers. */
  posEmbedPrefixTokens: number;
  /** Patch grid side the checkpoint's positional embedding was trained at; resampled when it differs. */
  posEmbedGrid: number;
  mlp: VitMlpKind;
  /** Width of the MLP hidden layer (for SwiGLU: of one half, the input of fc2). */
  mlpHidden: number;
  layerNormEps: number;
}

export interface VitWeightSource {
  /** Float32 values of a timm parameter, in timm's layout. */
  get(name: string): Float32Array;
  has(name: string): boolean;
}

export type VitQuantization = 'none' | 'int8';
export type VitAttentionImpl = 'onnx' | 'contrib';

export interface VitGraphOptions {
  quantize?: VitQuantization;
  /**
   * 'onnx': attention from standard opset-17 ops (runs on every execution provider);
   * 'contrib': onnxruntime's com.microsoft.MultiHeadAttention kernel.
   */
  attention?: VitAttentionImpl;
  /** Stored in the model's metadata so an imported file documents itself. */
  metadata?: Record<string, string>;
}

export const VIT_INPUT_NAME = 'pixels';
export const VIT_OUTPUT_NAME = 'cls';

function f32Bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** Transposes a row-major [rows, cols] matrix. */
export function transposeMatrix(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = m[base + c];
  }
  return out;
}

class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private serial = 0;
  private readonly int64Cache = new Map<string, string>();
  private readonly floatScalarCache = new Map<number, string>();

  private fresh(base: string): string {
    return `${base}_${this.serial++}`;
  }

  tensor(name: string, dataType: TensorDataTypeCode, dims: number[], raw: Uint8Array): string {
    this.initializers.push({ name, dataType, dims, raw });
    return name;
  }

  float(name: string, dims: number[], values: Float32Array): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (values.length !== count)
      throw new Error(`${name}: ${values.length} values for shape [${dims.join(', ')}]`);
    return this.tensor(name, TensorDataType.FLOAT, dims, f32Bytes(values));
  }

  int64s(values: number[]): string {
    const key = values.join(',');
    const cached = this.int64Cache.get(key);
    if (cached) return cached;
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    const name = this.tensor(
      `const_i64_${this.int64Cache.size}`,
      TensorDataType.INT64,
      [values.length],
      new Uint8Array(data.buffer),
    );
    this.int64Cache.set(key, name);
    return name;
  }

  scalar(value: number): string {
    const cached = this.floatScalarCache.get(value);
    if (cached) return cached;
    const name = this.float(`const_f32_${this.floatScalarCache.size}`, [], new Float32Array([value]));
    this.floatScalarCache.set(value, name);
    return name;
  }

  op(
    opType: string,
    inputs: string[],
    attributes: OnnxAttribute[] = [],
    outputCount = 1,
    domain?: string,
  ): string[] {
    const name = this.fresh(opType);
    const outputs = Array.from({ length: outputCount }, (_, i) => `${name}_out${i}`);
    this.nodes.push({ opType, inputs, outputs, name, attributes, domain });
    return outputs;
  }

  op1(opType: string, inputs: string[], attributes: OnnxAttribute[] = []): string {
    return this.op(opType, inputs, attributes)[0];
  }
}

const ints = (name: string, value: number[]): OnnxAttribute => ({ name, type: 'ints', value });
const int = (name: string, value: number): OnnxAttribute => ({ name, type: 'int', value });
const flt = (name: string, value: number): OnnxAttribute => ({ name, type: 'float', value });

/**
 * Symmetric per-output-channel int8 quantization of a [in, out] weight matrix. `levels` below 127 leaves
 * headroom: x86 CPUs without VNNI sum pairs of u8*s8 products in int16, which saturates at full range.
 */
export function quantizeColumnsInt8(
  w: Float32Array,
  rows: number,
  cols: number,
  levels = 127,
): { q: Int8Array; scales: Float32Array } {
  const maxAbs = new Float32Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const a = Math.abs(w[base + c]);
      if (a > maxAbs[c]) maxAbs[c] = a;
    }
  }
  const scales = new Float32Array(cols);
  for (let c = 0; c < cols; c++) scales[c] = maxAbs[c] > 0 ? maxAbs[c] / levels : 1;
  const q = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      q[base + c] = Math.max(-levels, Math.min(levels, Math.round(w[base + c] / scales[c])));
    }
  }
  return { q, scales };
}

export function buildVitGraph(
  a: VitArchitecture,
  weights: VitWeightSource,
  options: VitGraphOptions = {},
): OnnxModel {
  const quantize = options.quantize ?? 'none';
  const attention = options.attention ?? 'onnx';
  const g = new GraphBuilder();
  const D = a.dims;
  const H = a.heads;
  const hd = D / H;
  if (!Number.isInteger(hd)) throw new Error(`${a.dims} dims do not split into ${a.heads} heads`);
  const grid = a.inputSize / a.patchSize;
  if (!Number.isInteger(grid))
    throw new Error(`input size ${a.inputSize} is not a multiple of the ${a.patchSize}-pixel patch`);
  const numPatches = grid * grid;
  const prefix = 1 + a.numRegisterTokens;
  const T = prefix + numPatches;

  const expectShape = (name: string, values: Float32Array, count: number): Float32Array => {
    if (values.length !== count) {
      throw new Error(
        `checkpoint tensor ${name} has ${values.length} values, expected ${count} for ${a.arch}`,
      );
    }
    return values;
  };
  const param = (name: string, count: number): Float32Array => expectShape(name, weights.get(name), count);

  /** y = x W^T + b for a timm Linear weight W [out, in], with optional per-output scale folded in. */
  const linear = (
    x: string,
    prefixName: string,
    W: Float32Array,
    b: Float32Array,
    inF: number,
    outF: number,
  ) => {
    const wt = transposeMatrix(W, outF, inF); // [in, out]: MatMul's B layout, so no Transpose at run time
    if (quantize === 'int8') {
      const { q, scales } = quantizeColumnsInt8(wt, inF, outF);
      const wq = g.tensor(
        `${prefixName}.weight_int8`,
        TensorDataType.INT8,
        [inF, outF],
        new Uint8Array(q.buffer),
      );
      const ws = g.float(`${prefixName}.weight_scale`, [outF], scales);
      const [xq, xs, xz] = g.op('DynamicQuantizeLinear', [x], [], 3);
      const acc = g.op1('MatMulInteger', [xq, wq, xz]);
      const accF = g.op1('Cast', [acc], [int('to', TensorDataType.FLOAT)]);
      const scale = g.op1('Mul', [xs, ws]);
      const y = g.op1('Mul', [accF, scale]);
      return g.op1('Add', [y, g.float(`${prefixName}.bias`, [outF], b)]);
    }
    const y = g.op1('MatMul', [x, g.float(`${prefixName}.weight_t`, [inF, outF], wt)]);
    return g.op1('Add', [y, g.float(`${prefixName}.bias`, [outF], b)]);
  };

  const layerNorm = (x: string, prefixName: string) =>
    g.op1(
      'LayerNormalization',
      [
        x,
        g.float(`${prefixName}.weight`, [D], param(`${prefixName}.weight`, D)),
        g.float(`${prefixName}.bias`, [D], param(`${prefixName}.bias`, D)),
      ],
      [int('axis', -1), flt('epsilon', a.layerNormEps)],
    );

  const scaleRows = (W: Float32Array, b: Float32Array, gamma: Float32Array, rows: number, cols: number) => {
    const w2 = new Float32Array(W.length);
    const b2 = new Float32Array(b.length);
    for (let r = 0; r < rows; r++) {
      const s = gamma[r];
      b2[r] = b[r] * s;
      for (let c = 0; c < cols; c++) w2[r * cols + c] = W[r * cols + c] * s;
    }
    return { w: w2, b: b2 };
  };

  // ---- patch embedding, prefix tokens, positional embedding ----
  const pixels = VIT_INPUT_NAME;
  const convW = param('patch_embed.proj.weight', D * 3 * a.patchSize * a.patchSize);
  const convB = param('patch_embed.proj.bias', D);
  const patches = g.op1(
    'Conv',
    [pixels, g.float('patch_embed.proj.weight', [D, 3, a.patchSize, a.patchSize], convW)],
    [ints('kernel_shape', [a.patchSize, a.patchSize]), ints('strides', [a.patchSize, a.patchSize])],
  );
  const patchSeq = g.op1(
    'Transpose',
    [g.op1('Reshape', [patches, g.int64s([0, D, numPatches])])],
    [ints('perm', [0, 2, 1])],
  );

  const pos = param('pos_embed', (a.posEmbedGrid * a.posEmbedGrid + a.posEmbedPrefixTokens) * D);
  const patchPosRaw = resamplePatchPosEmbed(
    pos.subarray(a.posEmbedPrefixTokens * D),
    a.posEmbedGrid,
    grid,
    D,
  );
  const patchPos = new Float32Array(numPatches * D);
  for (let p = 0; p < numPatches; p++) {
    for (let d = 0; d < D; d++) patchPos[p * D + d] = patchPosRaw[p * D + d] + convB[d];
  }
  const patchTokens = g.op1('Add', [
    patchSeq,
    g.float('pos_embed.patches_plus_conv_bias', [1, numPatches, D], patchPos),
  ]);

  const prefixValues = new Float32Array(prefix * D);
  prefixValues.set(param('cls_token', D), 0);
  if (a.numRegisterTokens > 0) prefixValues.set(param('reg_token', a.numRegisterTokens * D), D);
  if (a.posEmbedPrefixTokens > 0) {
    for (let i = 0; i < prefix * D; i++) prefixValues[i] += pos[i];
  }
  const batch = g.op1('Slice', [g.op1('Shape', [pixels]), g.int64s([0]), g.int64s([1])]);
  const prefixShape = g.op1('Concat', [batch, g.int64s([prefix, D])], [int('axis', 0)]);
  const prefixTokens = g.op1('Expand', [g.float('prefix_tokens', [1, prefix, D], prefixValues), prefixShape]);
  const tokens3d = g.op1('Concat', [prefixTokens, patchTokens], [int('axis', 1)]);
  let x = g.op1('Reshape', [tokens3d, g.int64s([-1, D])]);

  // ---- transformer blocks ----
  const qkScale = 1 / Math.sqrt(hd);
  let cls = '';
  for (let i = 0; i < a.depth; i++) {
    const p = `blocks.${i}`;
    const last = i === a.depth - 1;

    const qkvW = param(`${p}.attn.qkv.weight`, 3 * D * D).slice();
    const qkvB = param(`${p}.attn.qkv.bias`, 3 * D).slice();
    for (let k = 0; k < D * D; k++) qkvW[k] *= qkScale;
    for (let k = 0; k < D; k++) qkvB[k] *= qkScale;
    const h1 = layerNorm(x, `${p}.norm1`);
    const qkv = linear(h1, `${p}.attn.qkv`, qkvW, qkvB, D, 3 * D);
    let ctx2d: string;
    if (attention === 'contrib') {
      // onnxruntime's fused CPU kernel (com.microsoft.MultiHeadAttention): no Transpose/Split copies.
      const qkv3 = g.op1('Reshape', [qkv, g.int64s([-1, T, 3 * D])]);
      const [qAll, k, v] = g.op('Split', [qkv3, g.int64s([D, D, D])], [int('axis', 2)], 3);
      const q = last ? g.op1('Slice', [qAll, g.int64s([0]), g.int64s([1]), g.int64s([1])]) : qAll;
      const ctx = g.op(
        'MultiHeadAttention',
        [q, k, v],
        [int('num_heads', H), flt('scale', 1)],
        1,
        'com.microsoft',
      )[0];
      ctx2d = g.op1('Reshape', [ctx, g.int64s([-1, D])]);
    } else {
      const qkv5 = g.op1('Reshape', [qkv, g.int64s([-1, T, 3, H, hd])]);
      const [q5, k5, v5] = g.op('Split', [qkv5, g.int64s([1, 1, 1])], [int('axis', 2)], 3);
      // [N, T, 1, H, hd] -> q, v: [N, H, T, hd]; k: [N, H, hd, T]
      let q = g.op1('Transpose', [q5], [ints('perm', [0, 2, 3, 1, 4])]);
      const k = g.op1('Transpose', [k5], [ints('perm', [0, 2, 3, 4, 1])]);
      const v = g.op1('Transpose', [v5], [ints('perm', [0, 2, 3, 1, 4])]);
      const qLen = last ? 1 : T;
      if (last) q = g.op1('Slice', [q, g.int64s([0]), g.int64s([1]), g.int64s([3])]);
      const shape4 = g.int64s([-1, H, qLen, hd]);
      const shape4k = g.int64s([-1, H, hd, T]);
      const shape4v = g.int64s([-1, H, T, hd]);
      const scores = g.op1('MatMul', [g.op1('Reshape', [q, shape4]), g.op1('Reshape', [k, shape4k])]);
      const probs = g.op1('Softmax', [scores], [int('axis', -1)]);
      const ctx = g.op1('MatMul', [probs, g.op1('Reshape', [v, shape4v])]);
      ctx2d = g.op1('Reshape', [g.op1('Transpose', [ctx], [ints('perm', [0, 2, 1, 3])]), g.int64s([-1, D])]);
    }

    const proj = scaleRows(
      param(`${p}.attn.proj.weight`, D * D),
      param(`${p}.attn.proj.bias`, D),
      param(`${p}.ls1.gamma`, D),
      D,
      D,
    );
    const attnOut = linear(ctx2d, `${p}.attn.proj`, proj.w, proj.b, D, D);
    const residual = last
      ? g.op1('Gather', [g.op1('Reshape', [x, g.int64s([-1, T, D])]), g.int64s([0])], [int('axis', 1)])
      : x;
    // Gather with a 1-element index keeps the axis: [N, 1, D] -> [N, D]
    const residual2d = last ? g.op1('Reshape', [residual, g.int64s([-1, D])]) : residual;
    x = g.op1('Add', [residual2d, attnOut]);

    const h2 = layerNorm(x, `${p}.norm2`);
    let hidden: string;
    if (a.mlp === 'gelu') {
      const fc1 = linear(
        h2,
        `${p}.mlp.fc1`,
        param(`${p}.mlp.fc1.weight`, a.mlpHidden * D),
        param(`${p}.mlp.fc1.bias`, a.mlpHidden),
        D,
        a.mlpHidden,
      );
      // Exact GELU 0.5 x (1 + erf(x / sqrt 2)), in the form onnxruntime fuses into one Gelu kernel.
      const erf = g.op1('Erf', [g.op1('Div', [fc1, g.scalar(Math.SQRT2)])]);
      hidden = g.op1('Mul', [g.op1('Mul', [fc1, g.op1('Add', [erf, g.scalar(1)])]), g.scalar(0.5)]);
    } else {
      const packed = swigluFc1(weights, p, a, D);
      const fc1 = linear(h2, `${p}.mlp.fc1`, packed.w, packed.b, D, 2 * a.mlpHidden);
      // timm SwiGLUPacked: silu(first half) * second half.
      const [gate, value] = g.op('Split', [fc1, g.int64s([a.mlpHidden, a.mlpHidden])], [int('axis', -1)], 2);
      const silu = g.op1('Mul', [gate, g.op1('Sigmoid', [gate])]);
      hidden = g.op1('Mul', [silu, value]);
    }
    const fc2 = scaleRows(
      param(`${p}.mlp.fc2.weight`, D * a.mlpHidden),
      param(`${p}.mlp.fc2.bias`, D),
      param(`${p}.ls2.gamma`, D),
      D,
      a.mlpHidden,
    );
    x = g.op1('Add', [x, linear(hidden, `${p}.mlp.fc2`, fc2.w, fc2.b, a.mlpHidden, D)]);
    if (last) cls = x;
  }

  // Identity names the graph output after the final norm.
  const normed = layerNorm(cls, 'norm');
  g.nodes.push({ opType: 'Identity', inputs: [normed], outputs: [VIT_OUTPUT_NAME], name: 'output_identity' });

  return {
    graph: {
      name: a.arch,
      nodes: g.nodes,
      initializers: g.initializers,
      inputs: [
        {
          name: VIT_INPUT_NAME,
          elemType: TensorDataType.FLOAT,
          shape: ['batch', 3, a.inputSize, a.inputSize],
        },
      ],
      outputs: [{ name: VIT_OUTPUT_NAME, elemType: TensorDataType.FLOAT, shape: ['batch', D] }],
    },
    opsets:
      attention === 'contrib'
        ? [
            { domain: '', version: 17 },
            { domain: 'com.microsoft', version: 1 },
          ]
        : [{ domain: '', version: 17 }],
    producerName: 'reddino-studio',
    producerVersion: '1',
    docString: `${a.arch} (timm DINOv2 ViT), CLS token after the final LayerNorm`,
    metadata: options.metadata,
  };
}

/** fc1 of a SwiGLU block as one packed [gate; value] matrix, from either timm layout. */
function swigluFc1(
  weights: VitWeightSource,
  p: string,
  a: VitArchitecture,
  D: number,
): { w: Float32Array; b: Float32Array } {
  const h = a.mlpHidden;
  const names = (n: string) => `${p}.mlp.${n}`;
  if (weights.has(names('fc1.weight'))) {
    const w = weights.get(names('fc1.weight'));
    const b = weights.get(names('fc1.bias'));
    if (w.length !== 2 * h * D || b.length !== 2 * h)
      throw new Error(`${names('fc1')} has the wrong size for SwiGLU`);
    return { w, b };
  }
  {
    // timm SwiGLU (unpacked): fc1_g is the gate, fc1_x the value.
    const wg = weights.get(names('fc1_g.weight'));
    const wx = weights.get(names('fc1_x.weight'));
    const bg = weights.get(names('fc1_g.bias'));
    const bx = weights.get(names('fc1_x.bias'));
    const w = new Float32Array(2 * h * D);
    w.set(wg, 0);
    w.set(wx, h * D);
    const b = new Float32Array(2 * h);
    b.set(bg, 0);
    b.set(bx, h);
    return { w, b };
  }
}
