/** Charts as standalone inline SVG strings: no script, no external font, so the HTML report opens anywhere. */

export function escapeXml(s: string): string {
  return s.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );
}

export interface Bar {
  label: string;
  value: number;
  color: string;
}

/** Horizontal bar chart: one row per class, value printed after the bar. */
export function barChartSvg(bars: Bar[], opts: { width?: number; title?: string } = {}): string {
  const width = opts.width ?? 560;
  const row = 20;
  const labelW = 150;
  const top = opts.title ? 24 : 4;
  const height = top + bars.length * row + 8;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const barMax = width - labelW - 60;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12" role="img">`,
  ];
  if (opts.title) parts.push(`<text x="0" y="15" font-weight="bold">${escapeXml(opts.title)}</text>`);
  bars.forEach((b, i) => {
    const y = top + i * row;
    const w = (b.value / max) * barMax;
    parts.push(
      `<text x="${labelW - 6}" y="${y + 14}" text-anchor="end">${escapeXml(b.label)}</text>`,
      `<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${row - 6}" fill="${escapeXml(b.color)}"><title>${escapeXml(b.label)}: ${b.value}</title></rect>`,
      `<text x="${(labelW + w + 4).toFixed(1)}" y="${y + 14}">${b.value}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

/** Confusion matrix heat map: rows are labels (truth), columns predictions; cell shade is the row fraction. */
export function confusionMatrixSvg(
  classNames: string[],
  matrix: number[][],
  opts: { title?: string } = {},
): string {
  const n = classNames.length;
  const cell = 28;
  const labelW = 130;
  const top = (opts.title ? 24 : 4) + 110;
  const width = labelW + n * cell + 10;
  const height = top + n * cell + 10;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11" role="img">`,
  ];
  if (opts.title)
    parts.push(`<text x="0" y="15" font-weight="bold" font-size="12">${escapeXml(opts.title)}</text>`);
  classNames.forEach((name, j) => {
    const x = labelW + j * cell + cell / 2;
    parts.push(`<text transform="translate(${x + 4},${top - 4}) rotate(-60)">${escapeXml(name)}</text>`);
  });
  matrix.forEach((row, i) => {
    const total = row.reduce((s, v) => s + v, 0);
    const y = top + i * cell;
    parts.push(
      `<text x="${labelW - 6}" y="${y + cell / 2 + 4}" text-anchor="end">${escapeXml(classNames[i])}</text>`,
    );
    row.forEach((v, j) => {
      const frac = total > 0 ? v / total : 0;
      const shade = Math.round(255 - frac * 200);
      const fill =
        i === j ? `rgb(${shade},${Math.round(255 - frac * 120)},${shade})` : `rgb(255,${shade},${shade})`;
      const x = labelW + j * cell;
      parts.push(
        `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" stroke="#ccc"><title>${escapeXml(classNames[i])} labeled, ${escapeXml(classNames[j])} predicted: ${v}</title></rect>`,
      );
      if (v > 0)
        parts.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle">${v}</text>`);
    });
  });
  parts.push(
    `<text x="${labelW + (n * cell) / 2}" y="${opts.title ? 32 : 12}" text-anchor="middle" fill="#555">predicted</text>`,
    '</svg>',
  );
  return parts.join('');
}
