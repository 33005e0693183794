import { escapeXml as esc, barChartSvg, confusionMatrixSvg } from './svg';
import { parasitemiaText, pct } from './format';
import type { CountSummary, ReportData } from './report';

function countTable(s: CountSummary): string {
  const rows = s.classes
    .filter((c) => c.count > 0 || c.grade)
    .map(
      (c) =>
        `<tr><td><span class="sw" style="background:${esc(c.color)}"></span>${esc(c.name)}</td>` +
        `<td class="n">${c.count}</td><td class="n">${pct(c.percentOfRbcs)}</td>` +
        `<td>${c.feature ? esc(c.feature) : ''}</td><td class="g">${c.grade ? esc(c.grade) : ''}</td></tr>`,
    )
    .join('');
  return (
    `<table><thead><tr><th>Class</th><th>Cells</th><th>% of RBCs</th><th>Graded feature</th><th>Grade</th></tr></thead>` +
    `<tbody>${rows || '<tr><td colspan="5">No counted cells.</td></tr>'}</tbody></table>`
  );
}

function summaryBlock(s: CountSummary, requested: boolean): string {
  const p = s.parasitemia;
  const warn = p.warning && (p.infected > 0 || requested) ? `<p class="warn">${esc(p.warning)}</p>` : '';
  return (
    `<p>${s.cells} cells, ${s.counted} counted (${s.rbcsCounted} RBCs)` +
    `${s.fromPredictions ? `, ${s.fromPredictions} from model predictions` : ''}.</p>` +
    `<p><b>Parasitaemia:</b> ${esc(parasitemiaText(p))}</p>${warn}`
  );
}

function bars(s: CountSummary, title: string): string {
  return barChartSvg(
    s.classes.filter((c) => c.count > 0).map((c) => ({ label: c.name, value: c.count, color: c.color })),
    { title },
  );
}

/** A self-contained HTML report: inline CSS and SVG, no script, prints cleanly. */
export function renderReportHtml(d: ReportData): string {
  const slides = d.slides
    .map(
      (s) =>
        `<section class="slide"><h2>${esc(s.name)}</h2><p class="path">${esc(s.path)}</p>${summaryBlock(s, d.parasitemiaRequested)}` +
        `${countTable(s)}${s.counted ? bars(s, 'Cells per class') : ''}</section>`,
    )
    .join('');
  const confusion = d.confusion
    ? `<section><h2>Predictions vs labels</h2><p>${d.confusion.n} labeled cells with a prediction (run ${d.confusion.predictionRunId}); ` +
      `agreement ${pct(d.confusion.accuracy == null ? null : d.confusion.accuracy * 100)}.</p>` +
      confusionMatrixSvg(d.confusion.classNames, d.confusion.matrix, {
        title: 'Confusion matrix (rows: label)',
      }) +
      '</section>'
    : '';
  const warnings = d.warnings.length
    ? `<section class="warnings"><h2>Warnings</h2><ul>${d.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul></section>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(d.title)}</title>
<style>
body{font:14px/1.4 Helvetica,Arial,sans-serif;margin:2em auto;max-width:960px;color:#222;padding:0 1em}
h1{font-size:22px}h2{font-size:17px;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0}th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}td.g{font-weight:bold}
.sw{display:inline-block;width:10px;height:10px;margin-right:6px;border:1px solid #999}
.warn{color:#a40}.path{color:#777;font-size:12px}.meta{color:#555}
@media print{section.slide{break-inside:avoid}}
</style></head><body>
<h1>${esc(d.title)}</h1>
<p class="meta">Project ${esc(d.project)} · generated ${esc(d.generatedAt)} · counting: ${esc(d.counting)}</p>
<p class="meta">Grading: ${esc(d.grading.name)}. ${esc(d.grading.citation)}</p>
${warnings}
<section><h2>Project</h2>${summaryBlock(d.totals, d.parasitemiaRequested)}${countTable(d.totals)}${d.totals.counted ? bars(d.totals, 'Cells per class, all slides') : ''}</section>
${confusion}
${slides}
</body></html>
`;
}
