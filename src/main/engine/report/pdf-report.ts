import { parasitemiaText, pct } from './format';
import { PdfDocument, type Rgb } from './pdf';
import type { CountSummary, ReportData } from './report';
import { hexToRgb } from '../formats/geojson';

const MARGIN = 48;

/** Lays the report out on A4 pages: header, warnings, project summary, confusion matrix, one block per slide. */
export function renderReportPdf(d: ReportData): Buffer {
  const pdf = new PdfDocument(d.title);
  const textWidth = (s: string, size: number, bold = false) => pdf.textWidth(s, size, bold);
  let y = MARGIN;
  const bottom = pdf.height - MARGIN;
  const newPage = () => {
    pdf.addPage();
    y = MARGIN;
  };
  const need = (h: number) => {
    if (y + h > bottom) newPage();
  };
  const fit = (s: string, size: number, max: number, bold = false): string => {
    if (textWidth(s, size, bold) <= max) return s;
    let t = s;
    while (t.length > 1 && textWidth(t + '...', size, bold) > max) t = t.slice(0, -1);
    return t + '...';
  };
  const para = (s: string, size = 9, color: Rgb = [0, 0, 0], bold = false) => {
    const max = pdf.width - 2 * MARGIN;
    const words = s.split(/\s+/);
    let line = '';
    for (const w of words) {
      const next = line ? `${line} ${w}` : w;
      if (textWidth(next, size, bold) > max && line) {
        need(size + 4);
        pdf.text(MARGIN, y + size, line, { size, color, bold });
        y += size + 3;
        line = w;
      } else line = next;
    }
    if (line) {
      need(size + 4);
      pdf.text(MARGIN, y + size, line, { size, color, bold });
      y += size + 3;
    }
  };

  const summary = (title: string, s: CountSummary, sub?: string) => {
    need(80);
    y += 8;
    pdf.text(MARGIN, y + 13, fit(title, 13, pdf.width - 2 * MARGIN, true), { size: 13, bold: true });
    y += 18;
    pdf.line(MARGIN, y, pdf.width - MARGIN, y, [200, 200, 200]);
    y += 4;
    if (sub) para(sub, 8, [110, 110, 110]);
    para(
      `${s.cells} cells, ${s.counted} counted (${s.rbcsCounted} RBCs)${s.fromPredictions ? `, ${s.fromPredictions} from model predictions` : ''}.`,
    );
    para(`Parasitaemia: ${parasitemiaText(s.parasitemia)}`, 9, [0, 0, 0]);
    if (s.parasitemia.warning && (s.parasitemia.infected > 0 || d.parasitemiaRequested))
      para(s.parasitemia.warning, 8.5, [170, 68, 0]);
    y += 4;
    const rows = s.classes.filter((c) => c.count > 0 || c.grade);
    const cols = [MARGIN, MARGIN + 150, MARGIN + 200, MARGIN + 265, MARGIN + 380];
    const barX = MARGIN + 410;
    const barMax = pdf.width - MARGIN - barX;
    const maxCount = Math.max(1, ...rows.map((r) => r.count));
    need(16);
    ['Class', 'Cells', '% RBCs', 'Graded feature', 'Grade'].forEach((h, i) =>
      pdf.text(cols[i], y + 9, h, { size: 8.5, bold: true }),
    );
    y += 13;
    for (const c of rows) {
      need(13);
      pdf.rect(MARGIN, y + 2, 7, 7, { fill: hexToRgb(c.color), stroke: [120, 120, 120], lineWidth: 0.3 });
      pdf.text(cols[0] + 11, y + 9, fit(c.name, 8.5, 135), { size: 8.5 });
      const count = String(c.count);
      pdf.text(cols[1] + 35 - textWidth(count, 8.5), y + 9, count, { size: 8.5 });
      const p = pct(c.percentOfRbcs);
      pdf.text(cols[2] + 45 - textWidth(p, 8.5), y + 9, p, { size: 8.5 });
      if (c.feature) pdf.text(cols[3], y + 9, fit(c.feature, 8.5, 110), { size: 8.5 });
      if (c.grade) pdf.text(cols[4], y + 9, c.grade, { size: 8.5, bold: true });
      if (c.count > 0) pdf.rect(barX, y + 2, (c.count / maxCount) * barMax, 8, { fill: hexToRgb(c.color) });
      y += 12;
    }
    if (rows.length === 0) para('No counted cells.', 8.5, [110, 110, 110]);
  };

  newPage();
  pdf.text(MARGIN, y + 18, fit(d.title, 18, pdf.width - 2 * MARGIN, true), { size: 18, bold: true });
  y += 28;
  para(`Project ${d.project}`, 8.5, [90, 90, 90]);
  para(`Generated ${d.generatedAt}; counting: ${d.counting}`, 8.5, [90, 90, 90]);
  para(`Grading: ${d.grading.name}. ${d.grading.citation}`, 8, [90, 90, 90]);
  if (d.warnings.length) {
    y += 6;
    para('Warnings', 10, [170, 68, 0], true);
    for (const w of d.warnings) para(`- ${w}`, 8.5, [170, 68, 0]);
  }
  const names = [d.title, ...d.slides.map((s) => s.name), ...d.totals.classes.map((c) => c.name)];
  if (names.some((n) => !pdf.canShow(n))) {
    para(
      pdf.unicode
        ? 'Characters the embedded font lacks print as ? in this PDF; report.html shows them in full.'
        : 'Names outside the Latin-1 alphabet print as ? in this PDF; report.html shows them in full.',
      8,
      [90, 90, 90],
    );
  }
  summary('Project, all slides', d.totals);

  if (d.confusion) {
    const cm = d.confusion;
    const n = cm.classNames.length;
    const cell = Math.min(22, (pdf.width - 2 * MARGIN - 120) / Math.max(1, n));
    need(60 + n * cell);
    y += 10;
    pdf.text(MARGIN, y + 13, 'Predictions vs labels', { size: 13, bold: true });
    y += 18;
    para(
      `${cm.n} labeled cells with a prediction (run ${cm.predictionRunId}); agreement ${pct(cm.accuracy == null ? null : cm.accuracy * 100)}. Rows: label; columns: prediction (same order).`,
      8.5,
    );
    y += 4;
    const x0 = MARGIN + 120;
    cm.classNames.forEach((_, j) => {
      const t = String(j + 1);
      pdf.text(x0 + j * cell + (cell - textWidth(t, 7)) / 2, y + 8, t, { size: 7, color: [90, 90, 90] });
    });
    y += 11;
    cm.matrix.forEach((row, i) => {
      const total = row.reduce((s, v) => s + v, 0);
      pdf.text(MARGIN, y + cell / 2 + 3, fit(`${i + 1}  ${cm.classNames[i]}`, 8, 112), { size: 8 });
      row.forEach((v, j) => {
        const f = total > 0 ? v / total : 0;
        const shade = Math.round(255 - f * 200);
        const fill: Rgb = i === j ? [shade, Math.round(255 - f * 120), shade] : [255, shade, shade];
        pdf.rect(x0 + j * cell, y, cell, cell, { fill, stroke: [200, 200, 200], lineWidth: 0.3 });
        if (v > 0) {
          const t = String(v);
          pdf.text(x0 + j * cell + (cell - textWidth(t, 7)) / 2, y + cell / 2 + 2.5, t, { size: 7 });
        }
      });
      y += cell;
    });
    y += 6;
  }

  for (const s of d.slides) summary(`Slide ${s.name}`, s, s.path);
  return pdf.toBuffer();
}
