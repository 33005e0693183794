/**
 * Reads the text back out of a PDF the way a viewer's copy or search does: the content streams' show-text
 * operators decoded through the font's ToUnicode CMap (bfchar and bfrange). Also returns the embedded Type0
 * font's parts so tests can check widths and the font program against the original font file.
 */
import zlib from 'node:zlib';

export interface PdfObject {
  dict: string;
  stream: Buffer | null;
}

export function pdfObjects(pdf: Buffer): Map<number, PdfObject> {
  const text = pdf.toString('latin1');
  const out = new Map<number, PdfObject>();
  for (const m of text.matchAll(/(\d+) 0 obj\n/g)) {
    const start = m.index! + m[0].length;
    const end = text.indexOf('\nendobj\n', start);
    const body = text.slice(start, end);
    const s = body.indexOf('\nstream\n');
    if (s < 0) {
      out.set(Number(m[1]), { dict: body, stream: null });
      continue;
    }
    const dict = body.slice(0, s);
    const length = Number(/\/Length (\d+)/.exec(dict)![1]);
    let stream = pdf.subarray(start + s + 8, start + s + 8 + length);
    if (/\/Filter \/FlateDecode/.test(dict)) stream = zlib.inflateSync(stream);
    out.set(Number(m[1]), { dict, stream });
  }
  return out;
}

const ref = (dict: string, key: string): number | null => {
  const m = new RegExp(`/${key} (\\d+) 0 R`).exec(dict);
  return m ? Number(m[1]) : null;
};

function utf16be(hex: string): string {
  let s = '';
  for (let i = 0; i < hex.length; i += 4) s += String.fromCharCode(parseInt(hex.slice(i, i + 4), 16));
  return s;
}

export function parseToUnicode(cmap: string): Map<number, string> {
  const map = new Map<number, string>();
  for (const block of cmap.matchAll(/beginbfchar([\s\S]*?)endbfchar/g)) {
    for (const m of block[1].matchAll(/<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>/g))
      map.set(parseInt(m[1], 16), utf16be(m[2]));
  }
  for (const block of cmap.matchAll(/beginbfrange([\s\S]*?)endbfrange/g)) {
    for (const m of block[1].matchAll(/<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>/g)) {
      const lo = parseInt(m[1], 16);
      const first = utf16be(m[3]);
      for (let c = lo; c <= parseInt(m[2], 16); c++)
        map.set(c, first.slice(0, -1) + String.fromCharCode(first.charCodeAt(first.length - 1) + c - lo));
    }
  }
  return map;
}

export interface PdfText {
  /** The shown strings of each page, in content order. */
  pages: string[][];
  /** Glyph ids shown (Identity-H fonts only). */
  glyphs: Set<number>;
  /** The Type0 font's CIDFont dictionary, descriptor and font program, when there is one. */
  font: { cidFont: string; descriptor: string; program: Buffer; toUnicode: Map<number, string> } | null;
  title: string | null;
}

export function extractPdfText(pdf: Buffer): PdfText {
  const objs = pdfObjects(pdf);
  let font: PdfText['font'] = null;
  for (const o of objs.values()) {
    if (!/\/Subtype \/Type0/.test(o.dict)) continue;
    const toUnicode = parseToUnicode(objs.get(ref(o.dict, 'ToUnicode')!)!.stream!.toString('latin1'));
    const cidFont = objs.get(Number(/\/DescendantFonts \[(\d+) 0 R\]/.exec(o.dict)![1]))!.dict;
    const descriptor = objs.get(ref(cidFont, 'FontDescriptor')!)!.dict;
    const program = objs.get(ref(descriptor, 'FontFile2')!)!.stream!;
    font = { cidFont, descriptor, program, toUnicode };
  }
  const pagesDict = [...objs.values()].find((o) => /\/Type \/Pages/.test(o.dict))!.dict;
  const kids = [.../\/Kids \[([^\]]*)\]/.exec(pagesDict)![1].matchAll(/(\d+) 0 R/g)].map((m) => Number(m[1]));
  const glyphs = new Set<number>();
  const pages = kids.map((k) => {
    const content = objs.get(ref(objs.get(k)!.dict, 'Contents')!)!.stream!.toString('latin1');
    const shown: string[] = [];
    for (const m of content.matchAll(/<([0-9A-Fa-f]*)> Tj|\(((?:\\.|[^\\)])*)\) Tj/g)) {
      if (m[1] !== undefined) {
        let s = '';
        for (let i = 0; i < m[1].length; i += 4) {
          const g = parseInt(m[1].slice(i, i + 4), 16);
          glyphs.add(g);
          s += font?.toUnicode.get(g) ?? '\uFFFD';
        }
        shown.push(s);
      } else {
        shown.push(
          m[2].replace(/\\([0-7]{3}|.)/g, (_, e: string) =>
            e.length === 3 ? String.fromCharCode(parseInt(e, 8)) : e,
          ),
        );
      }
    }
    return shown;
  });
  const info = [...objs.values()].find((o) => /\/Producer/.test(o.dict));
  const t = info ? /\/Title <FEFF([0-9A-F]*)>/.exec(info.dict) : null;
  return { pages, glyphs, font, title: t ? utf16be(t[1]) : null };
}
