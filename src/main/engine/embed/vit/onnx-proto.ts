import fs from 'node:fs';

/**
 * Minimal protobuf encoder for the ONNX messages the ViT builder emits (ModelProto, GraphProto, NodeProto,
 * TensorProto, ValueInfoProto, AttributeProto). Field numbers follow onnx/onnx.proto3.
 *
 * A message is kept as a list of chunks plus its total length, so tensor payloads are referenced, never
 * copied, and a model of a gigabyte is written with one writev-style pass.
 */

export const TensorDataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, FLOAT16: 10 } as const;
export type TensorDataTypeCode = (typeof TensorDataType)[keyof typeof TensorDataType];

const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;
const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_LEN = 2;

class ProtoWriter {
  readonly chunks: Uint8Array[] = [];
  length = 0;
  private scratch: number[] = [];

  private flushScratch(): void {
    if (this.scratch.length === 0) return;
    const bytes = Uint8Array.from(this.scratch);
    this.chunks.push(bytes);
    this.length += bytes.length;
    this.scratch = [];
  }

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.scratch.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.scratch.push(Number(v));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.varint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.scratch.push(...b);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.varint(value.length);
    this.flushScratch();
    if (value.length > 0) {
      this.chunks.push(value);
      this.length += value.length;
    }
    return this;
  }

  message(field: number, sub: ProtoWriter): this {
    sub.flushScratch();
    this.tag(field, WIRE_LEN);
    this.varint(sub.length);
    this.flushScratch();
    for (const c of sub.chunks) this.chunks.push(c);
    this.length += sub.length;
    return this;
  }

  finish(): Uint8Array[] {
    this.flushScratch();
    return this.chunks;
  }
}

export interface OnnxTensor {
  name: string;
  dataType: TensorDataTypeCode;
  dims: number[];
  /** Little-endian raw bytes (every supported platform is little-endian). */
  raw: Uint8Array;
  /** Set by the writer when the tensor goes to an external data file. */
  external?: { location: string; offset: number; length: number };
}

export type OnnxAttribute =
  | { name: string; type: 'int'; value: number }
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'ints'; value: number[] }
  | { name: string; type: 'floats'; value: number[] }
  | { name: string; type: 'string'; value: string }
  | { name: string; type: 'tensor'; value: OnnxTensor };

export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  name: string;
  domain?: string;
  attributes?: OnnxAttribute[];
}

export interface OnnxValueInfo {
  name: string;
  elemType: TensorDataTypeCode;
  /** A number is a fixed size, a string a named dynamic dimension. */
  shape: (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  graph: OnnxGraph;
  opsets: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  docString?: string;
  metadata?: Record<string, string>;
}

function encodeTensor(t: OnnxTensor): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.dataType);
  w.string(8, t.name);
  if (t.external) {
    const entries: [string, string][] = [
      ['location', t.external.location],
      ['offset', String(t.external.offset)],
      ['length', String(t.external.length)],
    ];
    for (const [k, v] of entries) w.message(13, new ProtoWriter().string(1, k).string(2, v));
    w.int(14, 1); // DataLocation.EXTERNAL
  } else {
    w.bytes(9, t.raw);
  }
  return w;
}

function encodeAttribute(a: OnnxAttribute): ProtoWriter {
  const w = new ProtoWriter().string(1, a.name);
  switch (a.type) {
    case 'int':
      w.int(3, a.value).int(20, AttributeType.INT);
      break;
    case 'float':
      w.float(2, a.value).int(20, AttributeType.FLOAT);
      break;
    case 'ints':
      for (const v of a.value) w.int(8, v);
      w.int(20, AttributeType.INTS);
      break;
    case 'floats':
      for (const v of a.value) w.float(7, v);
      w.int(20, AttributeType.FLOATS);
      break;
    case 'string':
      w.string(4, a.value).int(20, AttributeType.STRING);
      break;
    case 'tensor':
      w.message(5, encodeTensor(a.value)).int(20, AttributeType.TENSOR);
      break;
  }
  return w;
}

function encodeNode(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name).string(4, n.opType);
  for (const a of n.attributes ?? []) w.message(5, encodeAttribute(a));
  if (n.domain) w.string(7, n.domain);
  return w;
}

function encodeValueInfo(v: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) {
    const dim = new ProtoWriter();
    if (typeof d === 'number') dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter().int(1, v.elemType).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, v.name).message(2, type);
}

/** Protobuf caps a message at 2 GiB; beyond about this many bytes the weights go to an external file. */
export const MAX_INLINE_WEIGHT_BYTES = 1.5 * 1024 ** 3;

function encodeModel(model: OnnxModel): Uint8Array[] {
  const g = new ProtoWriter();
  for (const n of model.graph.nodes) g.message(1, encodeNode(n));
  g.string(2, model.graph.name);
  for (const t of model.graph.initializers) g.message(5, encodeTensor(t));
  for (const i of model.graph.inputs) g.message(11, encodeValueInfo(i));
  for (const o of model.graph.outputs) g.message(12, encodeValueInfo(o));
  const m = new ProtoWriter();
  m.int(1, 8); // IR version 8 (onnx 1.10+), enough for opset 17
  m.string(2, model.producerName);
  m.string(3, model.producerVersion);
  if (model.docString) m.string(6, model.docString);
  m.message(7, g);
  for (const o of model.opsets) {
    const op = new ProtoWriter();
    if (o.domain) op.string(1, o.domain);
    op.int(2, o.version);
    m.message(8, op);
  }
  for (const [k, v] of Object.entries(model.metadata ?? {})) {
    m.message(14, new ProtoWriter().string(1, k).string(2, v));
  }
  return m.finish();
}

function writeChunks(filePath: string, chunks: Uint8Array[]): void {
  const fd = fs.openSync(filePath, 'w');
  try {
    for (const c of chunks) {
      let done = 0;
      while (done < c.length) done += fs.writeSync(fd, c, done, c.length - done);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Serializes a model. Returns the in-memory bytes (for tests and hashing small models). */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const chunks = encodeModel(model);
  const total = chunks.reduce((s, c) => s + c.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/**
 * Writes `model` to `filePath`. When the initializers exceed what one protobuf message may hold, they go
 * to `<file>.data` beside it (ONNX external data), which onnxruntime reads when the model is opened by path.
 * Returns the files written.
 */
export function writeOnnxModel(
  filePath: string,
  model: OnnxModel,
  maxInlineWeightBytes = MAX_INLINE_WEIGHT_BYTES,
): string[] {
  const weightBytes = model.graph.initializers.reduce((s, t) => s + t.raw.length, 0);
  const files = [filePath];
  if (weightBytes > maxInlineWeightBytes) {
    const dataPath = `${filePath}.data`;
    const location = dataPath.split(/[\\/]/).pop() as string;
    let offset = 0;
    const chunks: Uint8Array[] = [];
    for (const t of model.graph.initializers) {
      // Small tensors stay inline; onnxruntime maps external data at 4 KiB-aligned offsets most cheaply.
      if (t.raw.length < 4096) continue;
      const pad = (4096 - (offset % 4096)) % 4096;
      if (pad) chunks.push(new Uint8Array(pad));
      offset += pad;
      t.external = { location, offset, length: t.raw.length };
      chunks.push(t.raw);
      offset += t.raw.length;
    }
    writeChunks(dataPath, chunks);
    files.push(dataPath);
  }
  writeChunks(filePath, encodeModel(model));
  return files;
}
