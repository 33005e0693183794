import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportProject } from '../../src/main/engine/export/project';
import { readChulaFile } from '../../src/main/engine/formats/chula';
import { imageSize } from '../../src/main/engine/formats/image-size';
import { PdfDocument, reportFont } from '../../src/main/engine/report/pdf';
import { TrueTypeFont } from '../../src/main/engine/report/ttf';
import { CellStore } from '../../src/main/engine/store/store';
import { dataPath, tempDir } from '../helpers/data';
import { extractPdfText } from './report-pdf-text';

const SLIDE = 'Präparat-Ωμέγα-Ж';
const CLASS = 'Эхиноцит βήτα';
const FONT_FILE = path.resolve(__dirname, '../../resources/fonts/DejaVuSans.ttf');

let tmp: { dir: string; cleanup: () => void };
let store: CellStore;

beforeAll(async () => {
  tmp = tempDir('reddino-report-unicode-');
  store = CellStore.create(path.join(tmp.dir, 'p.rdproj'));
  const file = path.join(tmp.dir, `${SLIDE}.jpg`);
  fs.copyFileSync(dataPath('fixture', 'chula_fields', '10.jpg'), file);
  const { width, height } = await imageSize(file);
  const ann = readChulaFile(dataPath('fixture', 'chula_fields', '10.txt'), file, {
    boxSize: 30,
    width,
    height,
  });
  const { cellIds } = store.addImageWithCells(
    {
      path: file,
      name: SLIDE,
      sha256: createHash('sha256').update(fs.readFileSync(file)).digest('hex'),
      width,
      height,
      format: 'jpeg',
    },
    ann.cells.map((c) => ({
      kind: 'rbc' as const,
      origin: 'imported-annotation' as const,
      bbox: c.bbox,
      centroid: [c.bbox[0] + c.bbox[2] / 2, c.bbox[1] + c.bbox[3] / 2] as [number, number],
    })),
  );
  const cls = store.addClass({ name: CLASS }).cls;
  store.applyLabels({ cellIds, classId: store.findClass('normal')!.id, source: 'manual', annotator: 'anna' });
  store.applyLabels({ cellIds: cellIds.slice(0, 5), classId: cls.id, source: 'manual', annotator: 'anna' });
});
afterAll(() => {
  store.close();
  tmp.cleanup();
});

describe('PDF report beyond Latin-1', () => {
  it('embeds a subset TrueType font whose ToUnicode CMap gives back Greek and Cyrillic names', async () => {
    const out = path.join(tmp.dir, 'report');
    await exportProject(store, { format: 'report', out, report: { title: 'Отчёт Ω', outputs: ['pdf'] } });
    const pdf = fs.readFileSync(path.join(out, 'report.pdf'));
    const t = extractPdfText(pdf);
    const all = t.pages.flat();
    expect(t.title).toBe('Отчёт Ω');
    expect(all).toContain('Отчёт Ω');
    expect(all).toContain(`Slide ${SLIDE}`);
    expect(all).toContain(CLASS);
    // Every name shows in full, so the note about unprintable characters is not there.
    expect(all.join(' ')).not.toMatch(/print as \?/);
    expect(all.join('')).not.toContain('\uFFFD');

    // The glyph ids shown are the original font's glyphs for those characters, with its advance widths in /W.
    const original = TrueTypeFont.fromFile(FONT_FILE);
    for (const ch of `${SLIDE}${CLASS}`) {
      expect(t.glyphs.has(original.glyphFor(ch.codePointAt(0)!))).toBe(true);
    }
    const font = t.font!;
    expect(font.cidFont).toMatch(/\/Subtype \/CIDFontType2/);
    expect(font.cidFont).toMatch(/\/CIDToGIDMap \/Identity/);
    const w = /\/W \[([^\]]*(?:\][^\]]*)*)\]/.exec(font.cidFont)![1];
    for (const m of w.matchAll(/(\d+) \[(\d+)\]/g)) {
      expect(Number(m[2])).toBe(original.advance1000(Number(m[1])));
    }
    // The embedded program is a valid TrueType font: outlines kept for the glyphs shown, others emptied.
    const sub = new TrueTypeFont(font.program);
    expect(sub.numGlyphs).toBe(original.numGlyphs);
    expect(font.program.length).toBeLessThan(original.data.length / 5);
    const zhe = original.glyphFor('Ж'.codePointAt(0)!);
    const unused = original.glyphFor('Щ'.codePointAt(0)!);
    expect(t.glyphs.has(unused)).toBe(false);
    const glyphLength = (f: TrueTypeFont, g: number) => f.glyphData(g).length;
    expect(glyphLength(sub, zhe)).toBe(glyphLength(original, zhe));
    expect(glyphLength(sub, zhe)).toBeGreaterThan(0);
    expect(glyphLength(sub, unused)).toBe(0);
  });

  it('prints characters the font lacks as ? and says so', () => {
    const doc = new PdfDocument('x');
    expect(doc.unicode).toBe(true);
    expect(doc.canShow('Ωμέγα Ж ü')).toBe(true);
    expect(doc.canShow('標本')).toBe(false);
    doc.text(10, 10, 'a 標 b');
    expect(extractPdfText(doc.toBuffer()).pages[0]).toEqual(['a ? b']);
  });

  it('falls back to Helvetica and WinAnsi without the font', () => {
    const doc = new PdfDocument('t', { font: null });
    doc.text(10, 10, 'a (b) \\ c ü Ж');
    const buf = doc.toBuffer();
    expect(buf.toString('latin1')).toContain('(a \\(b\\) \\\\ c \\374 ?) Tj');
    expect(doc.textWidth('MMMM', 10)).toBeCloseTo(33.32, 2);
    expect(extractPdfText(buf).pages[0]).toEqual(['a (b) \\ c ü ?']);
  });

  it('loads the shipped font', () => {
    expect(reportFont()).not.toBeNull();
  });

  // A second, independent reader where poppler-utils happens to be installed (not required by npm test).
  let hasPdftotext = false;
  try {
    execFileSync('pdftotext', ['-v'], { stdio: 'ignore' });
    hasPdftotext = true;
  } catch {
    hasPdftotext = false;
  }
  it.runIf(hasPdftotext)('pdftotext (poppler) reads the same names', () => {
    const text = execFileSync('pdftotext', [path.join(tmp.dir, 'report', 'report.pdf'), '-'], {
      encoding: 'utf8',
    });
    expect(text).toContain(SLIDE);
    expect(text).toContain(CLASS);
  });
});
