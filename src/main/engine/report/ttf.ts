/**
 * Just enough of a TrueType reader to embed a font in a PDF as a CIDFontType2 with Identity-H encoding: the
 * Unicode cmap (formats 4 and 12), advance widths and metrics, and a glyph subset. The subset keeps every glyph
 * id (so CID = GID and the PDF needs no CIDToGIDMap stream) but empties the outlines of glyphs the document does
 * not use, so a report embeds tens of kilobytes instead of the whole font.
 */
import fs from 'node:fs';

interface TableRecord {
  offset: number;
  length: number;
}

export interface FontMetrics {
  unitsPerEm: number;
  ascent: number;
  descent: number;
  capHeight: number;
  bbox: [number, number, number, number];
  italicAngle: number;
}

export class TrueTypeFont {
  readonly metrics: FontMetrics;
  readonly numGlyphs: number;
  private readonly tables = new Map<string, TableRecord>();
  private readonly advances: Uint16Array;
  private readonly cmap = new Map<number, number>();
  private readonly glyphOffsets: Uint32Array;

  constructor(readonly data: Buffer) {
    const sfnt = data.readUInt32BE(0);
    // 0x00010000 is TrueType outlines; 'true' is Apple's tag for the same. CFF ('OTTO') cannot be a CIDFontType2.
    if (sfnt !== 0x00010000 && sfnt !== 0x74727565) throw new Error('Not a TrueType (glyf) font.');
    const n = data.readUInt16BE(4);
    for (let i = 0; i < n; i++) {
      const r = 12 + i * 16;
      this.tables.set(data.toString('latin1', r, r + 4), {
        offset: data.readUInt32BE(r + 8),
        length: data.readUInt32BE(r + 12),
      });
    }
    // No 'cmap' needed: a subset embedded in a PDF has none (the PDF maps CIDs to glyphs), and then maps nothing.
    for (const t of ['head', 'hhea', 'hmtx', 'maxp', 'loca', 'glyf']) {
      if (!this.tables.has(t)) throw new Error(`TrueType font without a '${t}' table.`);
    }
    const head = this.table('head').offset;
    const unitsPerEm = data.readUInt16BE(head + 18);
    const longLoca = data.readInt16BE(head + 50) === 1;
    const bbox: [number, number, number, number] = [
      data.readInt16BE(head + 36),
      data.readInt16BE(head + 38),
      data.readInt16BE(head + 40),
      data.readInt16BE(head + 42),
    ];
    this.numGlyphs = data.readUInt16BE(this.table('maxp').offset + 4);
    const hhea = this.table('hhea').offset;
    const ascent = data.readInt16BE(hhea + 4);
    const descent = data.readInt16BE(hhea + 6);
    const nMetrics = data.readUInt16BE(hhea + 34);
    const hmtx = this.table('hmtx').offset;
    this.advances = new Uint16Array(this.numGlyphs);
    for (let g = 0; g < this.numGlyphs; g++) {
      this.advances[g] = data.readUInt16BE(hmtx + 4 * Math.min(g, nMetrics - 1));
    }
    const loca = this.table('loca').offset;
    this.glyphOffsets = new Uint32Array(this.numGlyphs + 1);
    for (let g = 0; g <= this.numGlyphs; g++) {
      this.glyphOffsets[g] = longLoca ? data.readUInt32BE(loca + 4 * g) : data.readUInt16BE(loca + 2 * g) * 2;
    }
    let capHeight = ascent;
    const os2 = this.tables.get('OS/2');
    if (os2 && data.readUInt16BE(os2.offset) >= 2 && os2.length >= 90) {
      capHeight = data.readInt16BE(os2.offset + 88);
    }
    const post = this.tables.get('post');
    const italicAngle = post ? data.readInt32BE(post.offset + 4) / 65536 : 0;
    this.metrics = { unitsPerEm, ascent, descent, capHeight, bbox, italicAngle };
    if (this.tables.has('cmap')) this.readCmap();
  }

  static fromFile(file: string): TrueTypeFont {
    return new TrueTypeFont(fs.readFileSync(file));
  }

  private table(tag: string): TableRecord {
    return this.tables.get(tag)!;
  }

  /** The glyph for a code point; 0 (.notdef) when the font has none. */
  glyphFor(codePoint: number): number {
    return this.cmap.get(codePoint) ?? 0;
  }

  hasGlyph(codePoint: number): boolean {
    return this.cmap.has(codePoint);
  }

  /** Advance width in 1/1000 em, the unit PDF font widths use. */
  advance1000(glyph: number): number {
    return Math.round((this.advances[glyph] * 1000) / this.metrics.unitsPerEm);
  }

  private readCmap(): void {
    const d = this.data;
    const cmap = this.table('cmap').offset;
    const n = d.readUInt16BE(cmap + 2);
    let best: { offset: number; format: number } | null = null;
    for (let i = 0; i < n; i++) {
      const r = cmap + 4 + i * 8;
      const platform = d.readUInt16BE(r);
      const encoding = d.readUInt16BE(r + 2);
      const offset = cmap + d.readUInt32BE(r + 4);
      const format = d.readUInt16BE(offset);
      const unicode = platform === 0 || (platform === 3 && (encoding === 1 || encoding === 10));
      if (!unicode || (format !== 4 && format !== 12)) continue;
      // Format 12 covers the astral planes too; prefer it when both exist.
      if (!best || (format === 12 && best.format === 4)) best = { offset, format };
    }
    if (!best) throw new Error('TrueType font without a Unicode cmap (format 4 or 12).');
    const o = best.offset;
    if (best.format === 12) {
      const groups = d.readUInt32BE(o + 12);
      for (let i = 0; i < groups; i++) {
        const g = o + 16 + i * 12;
        const start = d.readUInt32BE(g);
        const end = d.readUInt32BE(g + 4);
        const gid = d.readUInt32BE(g + 8);
        for (let c = start; c <= end; c++) if (gid + c - start) this.cmap.set(c, gid + c - start);
      }
      return;
    }
    const segX2 = d.readUInt16BE(o + 6);
    const ends = o + 14;
    const starts = ends + segX2 + 2;
    const deltas = starts + segX2;
    const rangeOffsets = deltas + segX2;
    for (let s = 0; s < segX2 / 2; s++) {
      const end = d.readUInt16BE(ends + 2 * s);
      const start = d.readUInt16BE(starts + 2 * s);
      const delta = d.readInt16BE(deltas + 2 * s);
      const ro = d.readUInt16BE(rangeOffsets + 2 * s);
      for (let c = start; c <= end && c !== 0xffff; c++) {
        let gid: number;
        if (ro === 0) gid = (c + delta) & 0xffff;
        else {
          const at = rangeOffsets + 2 * s + ro + 2 * (c - start);
          gid = d.readUInt16BE(at);
          if (gid !== 0) gid = (gid + delta) & 0xffff;
        }
        if (gid !== 0) this.cmap.set(c, gid);
      }
    }
  }

  /** The glyf record of a glyph (empty for glyphs without an outline). */
  glyphData(g: number): Buffer {
    const glyf = this.table('glyf').offset;
    return this.data.subarray(glyf + this.glyphOffsets[g], glyf + this.glyphOffsets[g + 1]);
  }

  /** Glyphs a composite glyph is built from (they must be kept in the subset too). */
  private components(g: number): number[] {
    const b = this.glyphData(g);
    if (b.length < 10 || b.readInt16BE(0) >= 0) return [];
    const out: number[] = [];
    let p = 10;
    for (;;) {
      const flags = b.readUInt16BE(p);
      out.push(b.readUInt16BE(p + 2));
      p += 4 + (flags & 0x1 ? 4 : 2);
      if (flags & 0x8) p += 2;
      else if (flags & 0x40) p += 4;
      else if (flags & 0x80) p += 8;
      if (!(flags & 0x20)) return out;
    }
  }

  /**
   * A font program with the same glyph ids whose outlines are kept only for `glyphs` (and what composites among
   * them reference) and glyph 0; the tables a PDF consumer needs for a CIDFontType2 (no cmap: CIDs are GIDs).
   */
  subset(glyphs: Iterable<number>): Buffer {
    const keep = new Set<number>([0]);
    const stack = [...glyphs];
    while (stack.length) {
      const g = stack.pop()!;
      if (g >= this.numGlyphs || keep.has(g)) continue;
      keep.add(g);
      stack.push(...this.components(g));
    }
    keep.add(0);
    const parts: Buffer[] = [];
    const loca = Buffer.alloc(4 * (this.numGlyphs + 1));
    let size = 0;
    for (let g = 0; g < this.numGlyphs; g++) {
      loca.writeUInt32BE(size, 4 * g);
      if (!keep.has(g)) continue;
      const b = this.glyphData(g);
      const padded = Buffer.alloc((b.length + 3) & ~3);
      b.copy(padded);
      parts.push(padded);
      size += padded.length;
    }
    loca.writeUInt32BE(size, 4 * this.numGlyphs);
    const glyf = Buffer.concat(parts);
    const raw = (tag: string) => {
      const t = this.tables.get(tag);
      return t ? Buffer.from(this.data.subarray(t.offset, t.offset + t.length)) : null;
    };
    const head = raw('head')!;
    head.writeUInt32BE(0, 8); // checkSumAdjustment, set below
    head.writeInt16BE(1, 50); // long loca offsets
    const out: Array<[string, Buffer]> = [];
    for (const tag of ['OS/2', 'cvt ', 'fpgm', 'glyf', 'head', 'hhea', 'hmtx', 'loca', 'maxp', 'prep']) {
      const b = tag === 'glyf' ? glyf : tag === 'loca' ? loca : tag === 'head' ? head : raw(tag);
      if (b) out.push([tag, b]);
    }
    return assembleSfnt(out);
  }
}

function checksum(b: Buffer): number {
  const padded = b.length % 4 ? Buffer.concat([b, Buffer.alloc(4 - (b.length % 4))]) : b;
  let sum = 0;
  for (let i = 0; i < padded.length; i += 4) sum = (sum + padded.readUInt32BE(i)) >>> 0;
  return sum;
}

/** Writes an sfnt with the tables in tag order, table checksums and head's checkSumAdjustment. */
function assembleSfnt(tables: Array<[string, Buffer]>): Buffer {
  tables.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const n = tables.length;
  const pow = 2 ** Math.floor(Math.log2(n));
  const header = Buffer.alloc(12 + 16 * n);
  header.writeUInt32BE(0x00010000, 0);
  header.writeUInt16BE(n, 4);
  header.writeUInt16BE(pow * 16, 6);
  header.writeUInt16BE(Math.log2(pow), 8);
  header.writeUInt16BE(n * 16 - pow * 16, 10);
  let offset = header.length;
  const bodies: Buffer[] = [];
  let headAt = -1;
  tables.forEach(([tag, b], i) => {
    const r = 12 + 16 * i;
    header.write(tag, r, 4, 'latin1');
    header.writeUInt32BE(checksum(b), r + 4);
    header.writeUInt32BE(offset, r + 8);
    header.writeUInt32BE(b.length, r + 12);
    if (tag === 'head') headAt = offset;
    const padded = Buffer.alloc((b.length + 3) & ~3);
    b.copy(padded);
    bodies.push(padded);
    offset += padded.length;
  });
  const font = Buffer.concat([header, ...bodies]);
  if (headAt >= 0) font.writeUInt32BE((0xb1b0afba - checksum(font)) >>> 0, headAt + 8);
  return font;
}
