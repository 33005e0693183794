/**
 * A minimal PDF 1.4 writer: pages with text in the standard Helvetica fonts, filled rectangles and lines. Enough
 * for a report with tables and bar charts, without a browser or an npm dependency, so the CLI and the engine can
 * produce PDFs on any machine. Text is set in an embedded TrueType font (Type0 / CIDFontType2, Identity-H, glyph
 * widths in /W, a ToUnicode CMap so text can be searched and copied), subset to the glyphs the document uses, so
 * Greek, Cyrillic and the other scripts of the font print as written. Without the font file it falls back to the
 * standard Helvetica in WinAnsi (Latin-1 plus a few symbols), printing '?' for anything else.
 */
import zlib from 'node:zlib';
import { resourcePath } from '../util/resources';
import { TrueTypeFont } from './ttf';

// Helvetica advance widths (1/1000 em) for codes 32..126, from the Adobe Helvetica AFM.
const HELVETICA_WIDTHS = [
  278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556,
  556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278,
  500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469,
  556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500,
  278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];
// Helvetica-Bold widths for the same codes.
const HELVETICA_BOLD_WIDTHS = [
  278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556,
  556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667, 611, 778, 722, 278,
  556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584,
  556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, 611, 611, 389, 556,
  333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];

// Unicode code points WinAnsiEncoding places in 0x80..0x9F.
const WIN_ANSI_EXTRA: Record<number, number> = {
  0x20ac: 0x80,
  0x201a: 0x82,
  0x0192: 0x83,
  0x201e: 0x84,
  0x2026: 0x85,
  0x2020: 0x86,
  0x2021: 0x87,
  0x02c6: 0x88,
  0x2030: 0x89,
  0x0160: 0x8a,
  0x2039: 0x8b,
  0x0152: 0x8c,
  0x017d: 0x8e,
  0x2018: 0x91,
  0x2019: 0x92,
  0x201c: 0x93,
  0x201d: 0x94,
  0x2022: 0x95,
  0x2013: 0x96,
  0x2014: 0x97,
  0x02dc: 0x98,
  0x2122: 0x99,
  0x0161: 0x9a,
  0x203a: 0x9b,
  0x0153: 0x9c,
  0x017e: 0x9e,
  0x0178: 0x9f,
};

/** Text as WinAnsi byte codes; '?' for anything the standard fonts cannot show. */
export function toWinAnsi(s: string): number[] {
  const out: number[] = [];
  for (const ch of s.normalize('NFC')) {
    const cp = ch.codePointAt(0)!;
    if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xff)) out.push(cp);
    else if (WIN_ANSI_EXTRA[cp] !== undefined) out.push(WIN_ANSI_EXTRA[cp]);
    else if (cp === 0xb5 || cp === 0x3bc) out.push(0xb5);
    else out.push(0x3f);
  }
  return out;
}

/** Width in points of text set in Helvetica (the fallback font). */
export function helveticaWidth(s: string, size: number, bold = false): number {
  const widths = bold ? HELVETICA_BOLD_WIDTHS : HELVETICA_WIDTHS;
  let w = 0;
  for (const c of toWinAnsi(s)) w += c >= 32 && c <= 126 ? widths[c - 32] : 556;
  return (w * size) / 1000;
}

function pdfString(s: string): string {
  let out = '(';
  for (const c of toWinAnsi(s)) {
    if (c === 0x28 || c === 0x29 || c === 0x5c) out += '\\' + String.fromCharCode(c);
    else if (c < 0x20 || c > 0x7e) out += '\\' + c.toString(8).padStart(3, '0');
    else out += String.fromCharCode(c);
  }
  return out + ')';
}

/** A text string for metadata (the document title): UTF-16BE with a byte-order mark, so any script survives. */
function pdfTextString(s: string): string {
  let hex = '<FEFF';
  for (let i = 0; i < s.length; i++) hex += s.charCodeAt(i).toString(16).padStart(4, '0').toUpperCase();
  return hex + '>';
}

let shippedFont: TrueTypeFont | null | undefined;

/**
 * The font the reports embed: DejaVu Sans (resources/fonts, Bitstream Vera licence). Null when the file is
 * missing, so a broken install still writes a PDF, in Helvetica with '?' for what WinAnsi lacks.
 */
export function reportFont(): TrueTypeFont | null {
  if (shippedFont !== undefined) return shippedFont;
  const file = resourcePath('fonts/DejaVuSans.ttf');
  try {
    shippedFont = TrueTypeFont.fromFile(file);
  } catch {
    shippedFont = null;
  }
  return shippedFont;
}

export type Rgb = [number, number, number];

function colorOps(c: Rgb, stroke: boolean): string {
  const v = c.map((x) => (x / 255).toFixed(3)).join(' ');
  return `${v} ${stroke ? 'RG' : 'rg'}`;
}

const n2 = (v: number): string => (Math.round(v * 100) / 100).toString();

/** Points the outline of fake-bold text is stroked with, per point of font size (the font ships one weight). */
const BOLD_STROKE = 0.035;

/** Pages are A4 portrait; coordinates are points from the top-left, converted to PDF's bottom-left origin. */
export class PdfDocument {
  readonly width = 595.28;
  readonly height = 841.89;
  private pages: string[][] = [];
  private title: string;
  private readonly font: TrueTypeFont | null;
  /** Glyphs the text uses, with the text each stands for (for the ToUnicode CMap). */
  private readonly used = new Map<number, string>();

  /** `font`: the TrueType font to embed; the shipped one by default, null for the Helvetica fallback. */
  constructor(title = 'Report', opts: { font?: TrueTypeFont | null } = {}) {
    this.title = title;
    this.font = opts.font === undefined ? reportFont() : opts.font;
  }

  /** Whether the document embeds a Unicode font (false: Helvetica, WinAnsi only). */
  get unicode(): boolean {
    return this.font != null;
  }

  /** Whether every character of `s` has a glyph (else it prints as '?'). */
  canShow(s: string): boolean {
    const f = this.font;
    if (!f) return !toWinAnsi(s).some((c, i) => c === 0x3f && [...s.normalize('NFC')][i] !== '?');
    for (const ch of s.normalize('NFC')) if (!f.hasGlyph(ch.codePointAt(0)!) && ch !== ' ') return false;
    return true;
  }

  private glyphs(s: string): Array<{ glyph: number; text: string }> {
    const f = this.font!;
    const q = f.glyphFor(0x3f);
    return [...s.normalize('NFC')].map((ch) => {
      const g = f.glyphFor(ch.codePointAt(0)!);
      return g ? { glyph: g, text: ch } : { glyph: q, text: '?' };
    });
  }

  textWidth(s: string, size: number, bold = false): number {
    if (!this.font) return helveticaWidth(s, size, bold);
    let w = 0;
    for (const { glyph } of this.glyphs(s)) w += this.font.advance1000(glyph);
    return (w * size) / 1000 + (bold ? BOLD_STROKE * size : 0);
  }

  addPage(): void {
    this.pages.push([]);
  }

  get pageCount(): number {
    return this.pages.length;
  }

  private get ops(): string[] {
    if (this.pages.length === 0) this.addPage();
    return this.pages[this.pages.length - 1];
  }

  text(x: number, y: number, s: string, opts: { size?: number; bold?: boolean; color?: Rgb } = {}): void {
    const size = opts.size ?? 10;
    const color = opts.color ?? [0, 0, 0];
    const at = `${n2(x)} ${n2(this.height - y)} Td`;
    if (!this.font) {
      this.ops.push(
        `BT ${colorOps(color, false)} /${opts.bold ? 'F2' : 'F1'} ${size} Tf ${at} ${pdfString(s)} Tj ET`,
      );
      return;
    }
    let hex = '<';
    for (const { glyph, text } of this.glyphs(s)) {
      if (!this.used.has(glyph)) this.used.set(glyph, text);
      hex += glyph.toString(16).padStart(4, '0').toUpperCase();
    }
    hex += '>';
    // Bold: fill and stroke the outlines (render mode 2); q/Q keep the mode and line width from leaking.
    const style = opts.bold ? `${colorOps(color, true)} ${n2(BOLD_STROKE * size)} w 2 Tr` : '0 Tr';
    this.ops.push(`q BT ${colorOps(color, false)} ${style} /F1 ${size} Tf ${at} ${hex} Tj ET Q`);
  }

  rect(
    x: number,
    y: number,
    w: number,
    h: number,
    opts: { fill?: Rgb; stroke?: Rgb; lineWidth?: number },
  ): void {
    const parts: string[] = [];
    if (opts.fill) parts.push(colorOps(opts.fill, false));
    if (opts.stroke) parts.push(colorOps(opts.stroke, true), `${n2(opts.lineWidth ?? 0.5)} w`);
    parts.push(`${n2(x)} ${n2(this.height - y - h)} ${n2(w)} ${n2(h)} re`);
    parts.push(opts.fill && opts.stroke ? 'B' : opts.fill ? 'f' : 'S');
    this.ops.push(parts.join(' '));
  }

  line(x0: number, y0: number, x1: number, y1: number, color: Rgb = [0, 0, 0], width = 0.5): void {
    this.ops.push(
      `${colorOps(color, true)} ${n2(width)} w ${n2(x0)} ${n2(this.height - y0)} m ${n2(x1)} ${n2(this.height - y1)} l S`,
    );
  }

  /** The Type0 font, its CIDFontType2, descriptor, subset font program and ToUnicode CMap. */
  private fontObjects(add: (body: string | Buffer) => number): number {
    const f = this.font!;
    const m = f.metrics;
    const scale = (v: number) => Math.round((v * 1000) / m.unitsPerEm);
    // The subset tag is derived from the glyphs used, so the same text gives the same bytes.
    const used = [...this.used.keys()].sort((a, b) => a - b);
    let h = 0;
    for (const g of used) h = (h * 31 + g) >>> 0;
    let tag = '';
    for (let i = 0; i < 6; i++, h = Math.floor(h / 26)) tag += String.fromCharCode(65 + (h % 26));
    const name = `${tag}+DejaVuSans`;
    const program = f.subset(used);
    const packed = zlib.deflateSync(program);
    const file = add(
      Buffer.concat([
        Buffer.from(
          `<< /Length ${packed.length} /Length1 ${program.length} /Filter /FlateDecode >>\nstream\n`,
          'latin1',
        ),
        packed,
        Buffer.from('\nendstream', 'latin1'),
      ]),
    );
    const descriptor = add(
      `<< /Type /FontDescriptor /FontName /${name} /Flags 32 /FontBBox [${m.bbox.map(scale).join(' ')}] ` +
        `/ItalicAngle ${m.italicAngle} /Ascent ${scale(m.ascent)} /Descent ${scale(m.descent)} ` +
        `/CapHeight ${scale(m.capHeight)} /StemV 80 /FontFile2 ${file} 0 R >>`,
    );
    const widths = used.map((g) => `${g} [${f.advance1000(g)}]`).join(' ');
    const cid = add(
      `<< /Type /Font /Subtype /CIDFontType2 /BaseFont /${name} ` +
        `/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> ` +
        `/FontDescriptor ${descriptor} 0 R /DW ${f.advance1000(0)} /W [${widths}] /CIDToGIDMap /Identity >>`,
    );
    const utf16 = (t: string) => {
      let out = '';
      for (let i = 0; i < t.length; i++) out += t.charCodeAt(i).toString(16).padStart(4, '0').toUpperCase();
      return out;
    };
    const lines: string[] = [];
    for (let i = 0; i < used.length; i += 100) {
      const chunk = used.slice(i, i + 100);
      lines.push(`${chunk.length} beginbfchar`);
      for (const g of chunk)
        lines.push(`<${g.toString(16).padStart(4, '0').toUpperCase()}> <${utf16(this.used.get(g)!)}>`);
      lines.push('endbfchar');
    }
    const cmap = [
      '/CIDInit /ProcSet findresource begin',
      '12 dict begin',
      'begincmap',
      '/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def',
      '/CMapName /Adobe-Identity-UCS def',
      '/CMapType 2 def',
      '1 begincodespacerange',
      '<0000> <FFFF>',
      'endcodespacerange',
      ...lines,
      'endcmap',
      'CMapName currentdict /CMap defineresource pop',
      'end',
      'end',
    ].join('\n');
    const toUnicode = add(`<< /Length ${cmap.length} >>\nstream\n${cmap}\nendstream`);
    return add(
      `<< /Type /Font /Subtype /Type0 /BaseFont /${name} /Encoding /Identity-H ` +
        `/DescendantFonts [${cid} 0 R] /ToUnicode ${toUnicode} 0 R >>`,
    );
  }

  /** Serialises the document; xref offsets are byte offsets of the assembled buffers. */
  toBuffer(): Buffer {
    if (this.pages.length === 0) this.addPage();
    const objects: Array<string | Buffer> = [];
    const add = (body: string | Buffer): number => {
      objects.push(body);
      return objects.length;
    };
    const catalog = add('');
    const pagesObj = add('');
    const contents: string[] = this.pages.map((ops) => ops.join('\n'));
    let fonts: string;
    if (this.font) {
      fonts = `/F1 ${this.fontObjects(add)} 0 R`;
    } else {
      const font1 = add('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>');
      const font2 = add(
        '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>',
      );
      fonts = `/F1 ${font1} 0 R /F2 ${font2} 0 R`;
    }
    const kids: number[] = [];
    for (const content of contents) {
      const stream = add(
        `<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}\nendstream`,
      );
      kids.push(
        add(
          `<< /Type /Page /Parent ${pagesObj} 0 R /MediaBox [0 0 ${this.width} ${this.height}] ` +
            `/Resources << /Font << ${fonts} >> >> /Contents ${stream} 0 R >>`,
        ),
      );
    }
    objects[catalog - 1] = `<< /Type /Catalog /Pages ${pagesObj} 0 R >>`;
    objects[pagesObj - 1] =
      `<< /Type /Pages /Kids [${kids.map((k) => `${k} 0 R`).join(' ')}] /Count ${kids.length} >>`;
    const info = add(`<< /Title ${pdfTextString(this.title)} /Producer (RedDino Studio) >>`);
    const chunks: Buffer[] = [Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
    let size = chunks[0].length;
    const push = (b: Buffer) => {
      chunks.push(b);
      size += b.length;
    };
    const offsets: number[] = [];
    objects.forEach((o, i) => {
      offsets.push(size);
      push(Buffer.from(`${i + 1} 0 obj\n`, 'latin1'));
      push(typeof o === 'string' ? Buffer.from(o, 'latin1') : o);
      push(Buffer.from('\nendobj\n', 'latin1'));
    });
    const xref = size;
    let tail = `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
    for (const off of offsets) tail += `${String(off).padStart(10, '0')} 00000 n \n`;
    tail += `trailer\n<< /Size ${objects.length + 1} /Root ${catalog} 0 R /Info ${info} 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
    push(Buffer.from(tail, 'latin1'));
    return Buffer.concat(chunks);
  }
}
