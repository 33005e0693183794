/**
 * Incremental writers for exports of a million cells: rows go to disk as they are read from the store, so memory
 * stays at a page of cells whatever the project size. They write inside the export's temporary folder; the whole
 * folder is renamed into place only when complete (writeDirAtomic), so a half-written file is never visible.
 */
import fs from 'node:fs';
import { cocoAnnotation, type CocoCategory, type CocoCellInput, type CocoImage } from '../formats/coco';

/** Strings collected up to this many characters before one write. */
const FLUSH_CHARS = 1 << 20;

/** Appends text to a file descriptor in large writes. */
class TextSink {
  private parts: string[] = [];
  private chars = 0;
  constructor(readonly fd: number) {}

  write(s: string): void {
    this.parts.push(s);
    this.chars += s.length;
    if (this.chars >= FLUSH_CHARS) this.flush();
  }

  flush(): void {
    if (this.parts.length) fs.writeSync(this.fd, this.parts.join(''));
    this.parts = [];
    this.chars = 0;
  }
}

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
/** A fixed header size, so the row count (unknown until the end) can be patched in place: 128 bytes hold any shape. */
const NPY_HEADER = 128;

function npyHeader(rows: number, cols: number): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const out = Buffer.alloc(NPY_HEADER, 0x20);
  Buffer.from(NPY_MAGIC).copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(NPY_HEADER - 10, 8);
  out.write(dict, 10, 'latin1');
  out[NPY_HEADER - 1] = 0x0a;
  return out;
}

/** A float32 N x D `.npy` (format 1.0) written row block by row block; `finish` writes the final shape. */
export class NpyFloat32Writer {
  private readonly fd: number;
  private count = 0;

  constructor(
    file: string,
    readonly cols: number,
  ) {
    this.fd = fs.openSync(file, 'w');
    fs.writeSync(this.fd, npyHeader(0, cols));
  }

  get rows(): number {
    return this.count;
  }

  /** Appends whole rows (a multiple of `cols` values). */
  append(values: Float32Array): void {
    if (values.length % this.cols)
      throw new Error(`npy: ${values.length} values are not whole rows of ${this.cols}`);
    fs.writeSync(this.fd, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    this.count += values.length / this.cols;
  }

  finish(): void {
    fs.writeSync(this.fd, npyHeader(this.count, this.cols), 0, NPY_HEADER, 0);
    fs.closeSync(this.fd);
  }

  /** Closes without finishing (on error; the temporary folder is removed with it). */
  abort(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}

/**
 * COCO JSON written as cells stream in: annotations go straight to the file, images to a side file appended at
 * the end, categories last. Produces the same objects as buildCoco (formats/coco.ts), keys in another order
 * ("annotations" before "images"), which JSON readers such as pycocotools do not care about. Category ids are the
 * 1-based positions in `categories`; a cell whose class is not among them is left out, as buildCoco does.
 */
export class CocoStreamWriter {
  private readonly main: TextSink;
  private readonly side: TextSink;
  private readonly catId: Map<string, number>;
  private images = 0;
  private annotations = 0;
  private readonly usedCategories = new Set<string>();

  constructor(
    file: string,
    private readonly sideFile: string,
    categories: readonly string[],
    description = 'RedDino Studio export',
  ) {
    this.catId = new Map(categories.map((c, i) => [c, i + 1]));
    this.main = new TextSink(fs.openSync(file, 'w'));
    this.side = new TextSink(fs.openSync(sideFile, 'w'));
    const info = {
      description,
      version: '1.0',
      year: new Date().getFullYear(),
      date_created: new Date().toISOString(),
    };
    this.main.write(`{"info":${JSON.stringify(info)},"licenses":[],"annotations":[`);
  }

  get imageCount(): number {
    return this.images;
  }

  get annotationCount(): number {
    return this.annotations;
  }

  /** Category names that cells were written under. */
  get used(): ReadonlySet<string> {
    return this.usedCategories;
  }

  addImage(fileName: string, width: number, height: number): number {
    const img: CocoImage = { id: ++this.images, file_name: fileName, width, height };
    this.side.write((img.id > 1 ? ',' : '') + JSON.stringify(img));
    return img.id;
  }

  addCell(imageId: number, c: CocoCellInput): void {
    const category = c.className != null ? this.catId.get(c.className) : undefined;
    if (category === undefined) return;
    this.usedCategories.add(c.className!);
    const ann = cocoAnnotation(++this.annotations, imageId, category, c);
    this.main.write((ann.id > 1 ? ',' : '') + JSON.stringify(ann));
  }

  /** Appends the images and `categories` (those listed in the file; ids as given to the constructor). */
  finish(categories: CocoCategory[]): void {
    this.side.flush();
    fs.closeSync(this.side.fd);
    this.main.write('],"images":[');
    this.main.flush();
    const side = fs.openSync(this.sideFile, 'r');
    try {
      const buf = Buffer.alloc(1 << 20);
      for (;;) {
        const n = fs.readSync(side, buf, 0, buf.length, null);
        if (n === 0) break;
        fs.writeSync(this.main.fd, buf, 0, n);
      }
    } finally {
      fs.closeSync(side);
    }
    fs.rmSync(this.sideFile);
    this.main.write(`],"categories":${JSON.stringify(categories)}}`);
    this.main.flush();
    fs.closeSync(this.main.fd);
  }

  abort(): void {
    for (const fd of [this.main.fd, this.side.fd]) {
      try {
        fs.closeSync(fd);
      } catch {
        // already closed
      }
    }
  }
}
