import type { Parasitemia } from './stats';

export const pct = (v: number | null, digits = 1): string => (v == null ? '–' : `${v.toFixed(digits)}%`);

export function parasitemiaText(p: Parasitemia): string {
  if (p.rbcsCounted === 0) return 'no RBCs counted';
  const ci = p.ci95 ? ` (95% CI ${p.ci95.low.toFixed(2)}–${p.ci95.high.toFixed(2)}%)` : '';
  const perUl =
    p.infectedPerMicroliter != null
      ? `; ${Math.round(p.infectedPerMicroliter).toLocaleString('en-US')} infected RBCs/µL`
      : '';
  return `${p.infected} infected of ${p.rbcsCounted} RBCs = ${pct(p.percent, 2)}${ci}${perUl}`;
}
