/**
 * A minimal PDF 1.4 writer: pages with text in the standard Helvetica fonts, filled rectangles and lines. Enough
 * for a report with tables and bar charts, without a browser or an npm dependency, so the CLI and the engine can
 * produce PDFs on any machine. Text is WinAnsi (Latin-1 plus a few symbols); characters outside it print as '?'
 * because the 14 standard fonts have no other glyphs (the HTML report shows every script).
 */

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

export function textWidth(s: string, size: number, bold = false): number {
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

export type Rgb = [number, number, number];

function colorOps(c: Rgb, stroke: boolean): string {
  const v = c.map((x) => (x / 255).toFixed(3)).join(' ');
  return `${v} ${stroke ? 'RG' : 'rg'}`;
}

const n2 = (v: number): string => (Math.round(v * 100) / 100).toString();

/** Pages are A4 portrait; coordinates are points from the top-left, converted to PDF's bottom-left origin. */
export class PdfDocument {
  readonly width = 595.28;
  readonly height = 841.89;
  private pages: string[][] = [];
  private title: string;

  constructor(title = 'Report') {
    this.title = title;
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
    this.ops.push(
      `BT ${colorOps(opts.color ?? [0, 0, 0], false)} /${opts.bold ? 'F2' : 'F1'} ${size} Tf ${n2(x)} ${n2(this.height - y)} Td ${pdfString(s)} Tj ET`,
    );
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

  /** Serialises the document; byte offsets in the xref table are exact because every byte is Latin-1. */
  toBuffer(): Buffer {
    if (this.pages.length === 0) this.addPage();
    const objects: string[] = [];
    const add = (body: string): number => {
      objects.push(body);
      return objects.length;
    };
    const catalog = add('');
    const pagesObj = add('');
    const font1 = add('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>');
    const font2 = add(
      '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>',
    );
    const kids: number[] = [];
    for (const ops of this.pages) {
      const content = ops.join('\n');
      const stream = add(
        `<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}\nendstream`,
      );
      kids.push(
        add(
          `<< /Type /Page /Parent ${pagesObj} 0 R /MediaBox [0 0 ${this.width} ${this.height}] ` +
            `/Resources << /Font << /F1 ${font1} 0 R /F2 ${font2} 0 R >> >> /Contents ${stream} 0 R >>`,
        ),
      );
    }
    objects[catalog - 1] = `<< /Type /Catalog /Pages ${pagesObj} 0 R >>`;
    objects[pagesObj - 1] =
      `<< /Type /Pages /Kids [${kids.map((k) => `${k} 0 R`).join(' ')}] /Count ${kids.length} >>`;
    const info = add(`<< /Title ${pdfString(this.title)} /Producer (RedDino Studio) >>`);
    let body = '%PDF-1.4\n%\xe2\xe3\xcf\xd3\n';
    const offsets: number[] = [];
    objects.forEach((o, i) => {
      offsets.push(Buffer.byteLength(body, 'latin1'));
      body += `${i + 1} 0 obj\n${o}\nendobj\n`;
    });
    const xref = Buffer.byteLength(body, 'latin1');
    body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
    for (const off of offsets) body += `${String(off).padStart(10, '0')} 00000 n \n`;
    body += `trailer\n<< /Size ${objects.length + 1} /Root ${catalog} 0 R /Info ${info} 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
    return Buffer.from(body, 'latin1');
  }
}
