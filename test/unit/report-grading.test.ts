import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  featureForClass,
  gradeFor,
  ICSH_2015,
  loadGradingScheme,
  parseGradingScheme,
} from '../../src/main/engine/report/grading';
import { parasitemia, wilsonInterval } from '../../src/main/engine/report/stats';
import { PROJECT_ROOT } from '../helpers/data';

/**
 * Red cell grading thresholds (percent of RBCs) of Palmer et al. 2015, ICSH recommendations for the
 * standardization of nomenclature and grading of peripheral blood cell morphological features, Int J Lab Hematol
 * 37:287-303, as transcribed for this project. Not yet checked against the published table (the JSON's
 * "verification" record lists the sources tried): these tests keep the shipped JSON and the grading arithmetic in
 * step with this table, they do not prove the table right.
 */
const ICSH_TABLE: Record<string, [string, string, string] | 'present'> = {
  Acanthocytes: ['5-20%', '21-50%', '>50%'],
  Echinocytes: ['5-20%', '21-50%', '>50%'],
  Dacrocytes: ['5-20%', '21-50%', '>50%'],
  Elliptocytes: ['5-20%', '21-50%', '>50%'],
  Ovalocytes: ['5-20%', '21-50%', '>50%'],
  Spherocytes: ['5-20%', '21-50%', '>50%'],
  Stomatocytes: ['5-20%', '21-50%', '>50%'],
  'Target cells': ['5-20%', '21-50%', '>50%'],
  Schistocytes: ['<1%', '1-2%', '>2%'],
  Macrocytes: ['11-20%', '21-50%', '>50%'],
  Microcytes: ['11-20%', '21-50%', '>50%'],
  'Hypochromic cells': ['11-20%', '21-50%', '>50%'],
  'Oval macrocytes': ['2-5%', '6-20%', '>20%'],
  'Sickle cells': 'present',
};

/** The grade a published range implies for a whole-number percentage, read straight from the range text. */
function gradeFromTable(ranges: [string, string, string], percent: number): string | null {
  let out: string | null = null;
  ranges.forEach((r, i) => {
    const lt = /^<(\d+)%$/.exec(r);
    const gt = /^>(\d+)%$/.exec(r);
    const range = /^(\d+)-(\d+)%$/.exec(r);
    const hit = lt
      ? percent > 0 && percent < Number(lt[1])
      : gt
        ? percent > Number(gt[1])
        : percent >= Number(range![1]) && percent <= Number(range![2]);
    if (hit) out = `${i + 1}+`;
  });
  return out;
}

describe('ICSH 2015 grading scheme', () => {
  it('ships exactly the features and published ranges of the table', () => {
    const shipped = loadGradingScheme(path.join(PROJECT_ROOT, 'resources/grading/icsh-2015.json'));
    expect(shipped.citation).toMatch(/Palmer/);
    expect(shipped.citation).toMatch(/10\.1111\/ijlh\.12327/);
    expect(shipped.features.map((f) => f.feature).sort()).toEqual(Object.keys(ICSH_TABLE).sort());
    for (const f of shipped.features) {
      const row = ICSH_TABLE[f.feature];
      if (row === 'present') {
        expect(f.grades).toEqual([]);
        expect(f.reportAs).toBe('present');
      } else {
        expect(f.grades.map((g) => g.published)).toEqual(row);
        expect(f.grades.map((g) => g.grade)).toEqual(['1+', '2+', '3+']);
      }
    }
  });

  it('grades every whole percentage 0-100 as the published ranges say', () => {
    for (const f of ICSH_2015.features) {
      const row = ICSH_TABLE[f.feature];
      if (row === 'present') continue;
      for (let pct = 0; pct <= 100; pct++)
        expect([f.feature, pct, gradeFor(f, pct)]).toEqual([f.feature, pct, gradeFromTable(row, pct)]);
    }
  });

  it('grades fractional percentages at the boundaries by the lower bound of the next grade', () => {
    const target = featureForClass(ICSH_2015, 'Target Cell')!;
    expect(gradeFor(target, 4.99)).toBeNull();
    expect(gradeFor(target, 20.4)).toBe('2+');
    expect(gradeFor(target, 50.01)).toBe('3+');
    const schisto = featureForClass(ICSH_2015, 'schistocyte')!;
    expect(gradeFor(schisto, 0)).toBeNull();
    expect(gradeFor(schisto, 0.3)).toBe('1+');
    expect(gradeFor(schisto, 2.0)).toBe('2+');
    expect(gradeFor(schisto, 2.01)).toBe('3+');
    expect(gradeFor(featureForClass(ICSH_2015, 'sickle cell')!, 0.2)).toBe('present');
    expect(featureForClass(ICSH_2015, 'normal')).toBeNull();
  });

  it('records for every entry whether and against what it was verified', () => {
    const raw = JSON.parse(
      fs.readFileSync(path.join(PROJECT_ROOT, 'resources/grading/icsh-2015.json'), 'utf8'),
    ) as {
      name: string;
      verification: { verifiedEntries: string[]; unverifiedEntries: string[] };
      features: Array<{ feature: string; verifiedAgainst: string | null }>;
    };
    const { verifiedEntries, unverifiedEntries } = raw.verification;
    expect([...verifiedEntries, ...unverifiedEntries].sort()).toEqual(
      raw.features.map((f) => f.feature).sort(),
    );
    for (const f of raw.features) {
      // A verified entry names its source (a URL); an unverified one names none.
      if (verifiedEntries.includes(f.feature)) expect(f.verifiedAgainst).toMatch(/^https?:\/\//);
      else expect(f.verifiedAgainst).toBeNull();
    }
    // The report prints the scheme's name: it must not present an unchecked table as checked.
    if (unverifiedEntries.length) expect(raw.name).toMatch(/not (yet )?(fully )?checked/);
  });

  it('rejects a malformed lab scheme with the reason', () => {
    expect(() => parseGradingScheme({ id: 'x', name: 'x' })).toThrow(/features/);
    expect(() =>
      parseGradingScheme({
        id: 'x',
        name: 'x',
        features: [
          {
            feature: 'A',
            classNames: ['a'],
            grades: [
              { grade: '1+', lower: 10, lowerInclusive: true },
              { grade: '2+', lower: 5, lowerInclusive: true },
            ],
          },
        ],
      }),
    ).toThrow(/rise/);
    expect(fs.existsSync(path.join(PROJECT_ROOT, 'resources/grading/icsh-2015.json'))).toBe(true);
  });
});

describe('parasitaemia', () => {
  it('computes the Wilson 95% interval', () => {
    const a = wilsonInterval(0, 10);
    expect(a.low).toBe(0);
    expect(a.high).toBeCloseTo(0.2775, 4);
    const b = wilsonInterval(5, 10);
    expect(b.low).toBeCloseTo(0.2366, 4);
    expect(b.high).toBeCloseTo(0.7634, 4);
    const c = wilsonInterval(10, 10);
    expect(c.high).toBe(1);
    expect(c.low).toBeCloseTo(0.7225, 4);
  });

  it('reports percent, interval, infected cells per uL and warns below the guideline count', () => {
    const p = parasitemia(25, 1000, { minRbcs: 500, rbcPerMicroliter: 4.5e6 });
    expect(p.percent).toBeCloseTo(2.5, 10);
    expect(p.ci95!.low).toBeCloseTo(100 * wilsonInterval(25, 1000).low, 10);
    expect(p.infectedPerMicroliter).toBeCloseTo(112500, 6);
    expect(p.warning).toBeNull();
    const few = parasitemia(2, 300, { minRbcs: 2000, guideline: 'lab SOP' });
    expect(few.warning).toMatch(/Only 300 RBCs counted; lab SOP \(minimum set to 2000\)/);
    expect(few.infectedPerMicroliter).toBeNull();
    expect(parasitemia(0, 0).percent).toBeNull();
  });
});
