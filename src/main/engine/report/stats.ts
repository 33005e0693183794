/** Wilson score interval for a binomial proportion k/n (Wilson 1927); well-behaved at k = 0 and small n. */
export function wilsonInterval(k: number, n: number, z = 1.959963984540054): { low: number; high: number } {
  if (n <= 0) return { low: 0, high: 1 };
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  // The bounds are exactly 0 at k = 0 and 1 at k = n; rounding would otherwise print 99.99...% for "all infected".
  return { low: k <= 0 ? 0 : Math.max(0, centre - half), high: k >= n ? 1 : Math.min(1, centre + half) };
}

export interface ParasitemiaOptions {
  /** Fewest RBCs a count must include before the result is reported without a warning. */
  minRbcs?: number;
  /** Name of the guideline behind `minRbcs`, shown with the warning. */
  guideline?: string;
  /** RBC count of the patient in cells per microlitre (from the analyser), for parasites/uL. */
  rbcPerMicroliter?: number;
}

export const DEFAULT_PARASITEMIA: Required<Pick<ParasitemiaOptions, 'minRbcs' | 'guideline'>> = {
  minRbcs: 500,
  guideline: 'WHO thin-film parasite count: count at least 500 RBCs, 2000 when parasitaemia is low',
};

export interface Parasitemia {
  infected: number;
  rbcsCounted: number;
  /** Infected RBCs / RBCs counted x 100. */
  percent: number | null;
  ci95: { low: number; high: number } | null;
  /** Infected RBCs per microlitre when the RBC count was entered (a multiply infected cell counts once). */
  infectedPerMicroliter: number | null;
  warning: string | null;
}

export function parasitemia(
  infected: number,
  rbcsCounted: number,
  opts: ParasitemiaOptions = {},
): Parasitemia {
  const minRbcs = opts.minRbcs ?? DEFAULT_PARASITEMIA.minRbcs;
  const guideline = opts.guideline ?? DEFAULT_PARASITEMIA.guideline;
  const ci = rbcsCounted > 0 ? wilsonInterval(infected, rbcsCounted) : null;
  const frac = rbcsCounted > 0 ? infected / rbcsCounted : null;
  return {
    infected,
    rbcsCounted,
    percent: frac == null ? null : frac * 100,
    ci95: ci ? { low: ci.low * 100, high: ci.high * 100 } : null,
    infectedPerMicroliter: frac != null && opts.rbcPerMicroliter ? frac * opts.rbcPerMicroliter : null,
    warning:
      rbcsCounted < minRbcs
        ? `Only ${rbcsCounted} RBCs counted; ${guideline} (minimum set to ${minRbcs}).`
        : null,
  };
}
