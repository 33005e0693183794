import fs from 'node:fs';
import icsh2015 from '../../../../resources/grading/icsh-2015.json';

export interface GradeBound {
  grade: string;
  /** The range as printed in the source table, e.g. "5-20%". */
  published: string;
  /** Percent of RBCs above which (or from which, when inclusive) this grade applies. */
  lower: number;
  lowerInclusive: boolean;
}

export interface GradedFeature {
  feature: string;
  /** Project class names (case-insensitive) counted as this feature. */
  classNames: string[];
  /** Ascending; empty when the scheme reports the feature only as present. */
  grades: GradeBound[];
  reportAs?: 'present';
}

export interface GradingScheme {
  id: string;
  name: string;
  citation: string;
  features: GradedFeature[];
}

export const ICSH_2015: GradingScheme = icsh2015 as GradingScheme;

/** Checks a user-supplied scheme so a typo in a lab's JSON fails at load, not as a silently wrong grade. */
export function parseGradingScheme(json: unknown, origin = 'grading scheme'): GradingScheme {
  const s = json as Partial<GradingScheme>;
  const fail = (why: string): never => {
    throw new Error(`${origin}: ${why}`);
  };
  if (!s || typeof s !== 'object') fail('not a JSON object');
  if (typeof s.id !== 'string' || typeof s.name !== 'string') fail('needs "id" and "name" strings');
  if (!Array.isArray(s.features)) fail('needs a "features" array');
  for (const f of s.features!) {
    if (typeof f.feature !== 'string' || !Array.isArray(f.classNames))
      fail('each feature needs "feature" and "classNames"');
    if (!Array.isArray(f.grades)) fail(`feature ${f.feature}: "grades" must be an array`);
    let prev = -Infinity;
    for (const g of f.grades) {
      if (
        typeof g.grade !== 'string' ||
        typeof g.lower !== 'number' ||
        typeof g.lowerInclusive !== 'boolean'
      ) {
        fail(`feature ${f.feature}: each grade needs "grade", "lower" (number) and "lowerInclusive"`);
      }
      if (g.lower < prev) fail(`feature ${f.feature}: grade bounds must rise`);
      prev = g.lower;
    }
  }
  return { citation: '', ...s } as GradingScheme;
}

export function loadGradingScheme(file: string): GradingScheme {
  return parseGradingScheme(JSON.parse(fs.readFileSync(file, 'utf8')), file);
}

export function featureForClass(scheme: GradingScheme, className: string): GradedFeature | null {
  const n = className.trim().toLowerCase();
  return scheme.features.find((f) => f.classNames.some((c) => c.toLowerCase() === n)) ?? null;
}

/** The highest grade whose lower bound `percent` meets, or null below the first grade. */
export function gradeFor(feature: GradedFeature, percent: number): string | null {
  let out: string | null = null;
  for (const g of feature.grades) {
    if (g.lowerInclusive ? percent >= g.lower : percent > g.lower) out = g.grade;
  }
  if (feature.reportAs === 'present' && feature.grades.length === 0 && percent > 0) return 'present';
  return out;
}
