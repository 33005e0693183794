import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportProject } from '../../src/main/engine/export/project';
import { buildReportData, type ReportData } from '../../src/main/engine/report/report';
import { PdfDocument, toWinAnsi } from '../../src/main/engine/report/pdf';
import { extractPdfText } from './report-pdf-text';
import { wilsonInterval } from '../../src/main/engine/report/stats';
import { tempDir } from '../helpers/data';
import { buildFixtureProject, NON_ASCII_CLASSES, type FixtureProject } from './export-fixture';

let tmp: { dir: string; cleanup: () => void };
let p: FixtureProject;
let ringCells: number[];

beforeAll(async () => {
  tmp = tempDir('reddino-report-');
  p = await buildFixtureProject(tmp.dir, ['10', '101']);
  // Four malaria rings on the first slide, labeled by hand.
  ringCells = p.store
    .queryCells({ imageIds: [p.imageIds[0]] })
    .slice(10, 14)
    .map((c) => c.id);
  p.store.applyLabels({
    cellIds: ringCells,
    classId: p.store.findClass('malaria ring')!.id,
    source: 'manual',
    annotator: 'anna',
  });
});
afterAll(() => {
  p.store.close();
  tmp.cleanup();
});

/** Checks a PDF's cross-reference table: every offset must point at the start of its object. */
function checkXref(pdf: Buffer): { objects: number; pages: number } {
  const text = pdf.toString('latin1');
  expect(text.startsWith('%PDF-1.4\n')).toBe(true);
  expect(text.trimEnd().endsWith('%%EOF')).toBe(true);
  const startxref = Number(/startxref\n(\d+)\n%%EOF/.exec(text)![1]);
  expect(text.slice(startxref, startxref + 4)).toBe('xref');
  const [, count] = /xref\n0 (\d+)\n/.exec(text.slice(startxref))!.map(Number);
  const entries = text
    .slice(startxref)
    .split('\n')
    .slice(2, 2 + count);
  expect(entries[0]).toBe('0000000000 65535 f ');
  entries.slice(1).forEach((e, i) => {
    const off = Number(e.slice(0, 10));
    expect(text.slice(off, off + `${i + 1} 0 obj`.length)).toBe(`${i + 1} 0 obj`);
  });
  for (const m of text.matchAll(/<< \/Length (\d+) >>\nstream\n/g)) {
    const start = m.index! + m[0].length;
    expect(text.slice(start + Number(m[1]), start + Number(m[1]) + 10)).toBe('\nendstream');
  }
  const pages = Number(/\/Type \/Pages \/Kids \[[^\]]*\] \/Count (\d+)/.exec(text)![1]);
  expect((text.match(/\/Type \/Page /g) ?? []).length).toBe(pages);
  return { objects: count - 1, pages };
}

describe('report data', () => {
  let d: ReportData;
  beforeAll(() => {
    d = buildReportData(p.store, { parasitemia: { minRbcs: 500, rbcPerMicroliter: 5e6 } });
  });

  it('counts every labeled cell per slide and class, and percentages of RBCs sum to 100', () => {
    expect(d.slides).toHaveLength(2);
    const stats = p.store.stats().labelsPerClass;
    for (const c of d.totals.classes) expect(c.count).toBe(stats[c.name] ?? 0);
    for (const s of d.slides) {
      const sum = s.classes.filter((c) => c.isRbc).reduce((t, c) => t + (c.percentOfRbcs ?? 0), 0);
      expect(sum).toBeCloseTo(100, 6);
      expect(s.counted).toBe(p.store.queryCells({ imageIds: [s.imageId], labeled: 'labeled' }).length);
    }
  });

  it('grades classes by their share of RBCs and computes parasitaemia from infected classes', () => {
    for (const c of d.totals.classes.filter((x) => x.name === 'echinocyte' || x.name === 'spherocyte')) {
      expect(c.feature).not.toBeNull();
      const pct = c.percentOfRbcs!;
      const expected = pct > 50 ? '3+' : pct > 20 ? '2+' : pct >= 5 ? '1+' : null;
      expect(c.grade).toBe(expected);
    }
    const s1 = d.slides.find((s) => s.imageId === p.imageIds[0])!;
    expect(s1.parasitemia.infected).toBe(ringCells.length);
    expect(s1.parasitemia.percent).toBeCloseTo((100 * ringCells.length) / s1.rbcsCounted, 10);
    expect(s1.parasitemia.ci95!.high).toBeCloseTo(
      100 * wilsonInterval(ringCells.length, s1.rbcsCounted).high,
      10,
    );
    expect(s1.parasitemia.infectedPerMicroliter).toBeCloseTo((ringCells.length / s1.rbcsCounted) * 5e6, 6);
    expect(s1.parasitemia.warning).toMatch(/RBCs counted/);
    expect(d.warnings.some((w) => w.startsWith(s1.name))).toBe(true);
    const s2 = d.slides.find((s) => s.imageId === p.imageIds[1])!;
    expect(s2.parasitemia.infected).toBe(0);
  });

  it('builds the label-vs-prediction confusion matrix from the latest run', () => {
    const run = p.store.latestPredictionRun()!;
    const cm = d.confusion!;
    const labels = p.store.labelsFor(run.cellIds);
    let n = 0;
    let agree = 0;
    for (let i = 0; i < run.cellIds.length; i++) {
      if (labels[i] < 0) continue;
      n++;
      if (labels[i] === run.predicted[i]) agree++;
    }
    expect(cm.n).toBe(n);
    expect(cm.accuracy).toBeCloseTo(agree / n, 10);
    const ring = cm.classIds.indexOf(p.store.findClass('malaria ring')!.id);
    expect(ring).toBeGreaterThanOrEqual(0);
    expect(cm.matrix.reduce((s, row) => s + row[ring], 0)).toBe(
      Array.from(run.predicted).filter((v, i) => v === cm.classIds[ring] && labels[i] >= 0).length,
    );
  });

  it('can count unlabeled cells by their prediction and says so', () => {
    const unl = p.store
      .queryCells({ imageIds: [p.imageIds[1]] })
      .slice(0, 5)
      .map((c) => c.id);
    p.store.applyLabels({ cellIds: unl, classId: null, source: 'manual', annotator: 'anna' });
    const labelsOnly = buildReportData(p.store);
    const withPred = buildReportData(p.store, { counting: 'labels+predictions' });
    expect(withPred.totals.fromPredictions).toBe(5);
    expect(withPred.totals.counted).toBe(labelsOnly.totals.counted + 5);
    expect(
      withPred.warnings.some((w) => /5 of the counted cells are unreviewed model predictions/.test(w)),
    ).toBe(true);
    p.store.undo('anna');
  });
});

describe('report files', () => {
  it('writes HTML with inline SVG charts and escaped, non-ASCII names, a valid PDF and JSON', async () => {
    const odd = p.store.addClass({ name: '<b>odd & "quoted"</b>' }).cls;
    const cell = p.store.queryCells({ imageIds: [p.imageIds[1]] })[20].id;
    p.store.applyLabels({ cellIds: [cell], classId: odd.id, source: 'manual', annotator: 'anna' });
    const out = path.join(tmp.dir, 'report');
    const r = await exportProject(p.store, { format: 'report', out, report: { title: 'Smear QC ü' } });
    expect(r.files.sort()).toEqual(['report.html', 'report.json', 'report.pdf']);
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    expect((html.match(/<svg /g) ?? []).length).toBeGreaterThanOrEqual(4);
    for (const n of NON_ASCII_CLASSES) expect(html).toContain(n);
    expect(html).not.toContain('<b>odd');
    expect(html).toContain('&lt;b&gt;odd &amp; &quot;quoted&quot;&lt;/b&gt;');
    expect(html).not.toContain('<script');
    const pdf = fs.readFileSync(path.join(out, 'report.pdf'));
    const { pages } = checkXref(pdf);
    expect(pages).toBeGreaterThanOrEqual(1);
    const shown = extractPdfText(pdf).pages.flat();
    expect(shown).toContain('Smear QC ü');
    expect(shown.some((s) => s.startsWith('Parasit'))).toBe(true);
    expect(shown).toContain(NON_ASCII_CLASSES[0]);
    // DejaVu Sans has no CJK glyphs: those print as '?' and the PDF says where to read them.
    expect(shown).toContain('????');
    expect(shown.some((s) => s.includes('Ausstrich ü ?? 101'))).toBe(true);
    expect(shown.join(' ')).toMatch(/print as \? in this PDF/);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as ReportData;
    expect(json.slides).toHaveLength(2);
  });

  it('restricts the report to chosen slides', async () => {
    const out = path.join(tmp.dir, 'report-one');
    const r = await exportProject(p.store, {
      format: 'report',
      out,
      slides: [String(p.imageIds[1])],
      report: { outputs: ['json'] },
    });
    expect(r.files).toEqual(['report.json']);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as ReportData;
    expect(json.slides.map((s) => s.imageId)).toEqual([p.imageIds[1]]);
  });
});

describe('PDF writer', () => {
  it('paginates, escapes PDF string syntax and maps text to WinAnsi (the fallback without the font)', () => {
    const doc = new PdfDocument('t', { font: null });
    doc.text(10, 10, 'a (b) \\ c');
    doc.addPage();
    doc.rect(10, 10, 100, 20, { fill: [255, 0, 0], stroke: [0, 0, 0] });
    doc.line(0, 0, 100, 100);
    const buf = doc.toBuffer();
    expect(checkXref(buf).pages).toBe(2);
    expect(buf.toString('latin1')).toContain('(a \\(b\\) \\\\ c) Tj');
    expect(toWinAnsi('ü€標')).toEqual([0xfc, 0x80, 0x3f]);
    expect(doc.textWidth('MMMM', 10)).toBeCloseTo(33.32, 2);
    expect(doc.textWidth('iiii', 10)).toBeLessThan(doc.textWidth('MMMM', 10));
    // With the embedded font widths come from its hmtx: DejaVu Sans 'M' advances 1767/2048 em.
    expect(new PdfDocument('t').textWidth('MMMM', 10)).toBeCloseTo(
      (4 * 10 * Math.round((1767 * 1000) / 2048)) / 1000,
      2,
    );
  });
});
