/* eslint-disable no-restricted-imports -- renderer unit tests exercise the renderer's pure state modules (no DOM, no React); the test/** rule guards engine tests against renderer code. */
import { describe, expect, it } from 'vitest';
import { CellPager, type PageFetch } from '../../src/renderer/state/pager';
import type { CellSummary } from '../../src/shared/domain';

/** An in-memory cell list standing in for the engine's paged query (the pager's logic, not the store, is tested). */
function source(n: number, withCount: boolean) {
  const cells: CellSummary[] = Array.from({ length: n }, (_, i) => ({
    id: i + 1,
    imageId: 1 + (i % 3),
    kind: 'rbc',
    bbox: [0, 0, 1, 1],
    centroid: [0, 0],
    classId: null,
    predictedClassId: null,
    confidence: null,
    margin: null,
  }));
  const calls: Array<{ offset?: number; limit?: number; cellIds?: number[] }> = [];
  const fetch: PageFetch = {
    async query(a) {
      calls.push(a);
      if (a.cellIds) return cells.filter((c) => a.cellIds!.includes(c.id));
      return cells.slice(a.offset ?? 0, (a.offset ?? 0) + (a.limit ?? n));
    },
    async count() {
      return withCount ? n : null;
    },
  };
  return { cells, calls, fetch };
}

describe('CellPager', () => {
  it('fetches only the pages a range touches and serves cells by index', async () => {
    const s = source(1000, true);
    const p = new CellPager({ kind: 'query', filter: {}, sort: 'id' }, s.fetch, () => undefined, 100);
    await p.init();
    expect(p.total).toBe(1000);
    await p.ensure(250, 420);
    expect(s.calls.map((c) => c.offset)).toEqual([200, 300, 400]);
    expect(p.get(250)?.id).toBe(251);
    expect(p.get(100)).toBeUndefined();
    await p.ensure(250, 420);
    expect(s.calls.length).toBe(3);
  });

  it('discovers the total page by page when the engine cannot count', async () => {
    const s = source(250, false);
    const p = new CellPager({ kind: 'query', filter: {}, sort: 'id' }, s.fetch, () => undefined, 100);
    await p.init();
    expect(p.totalIsExact).toBe(false);
    expect(p.total).toBe(100);
    await p.ensure(0, 100);
    expect(p.total).toBe(200);
    // The grid asks for what it shows; beyond the discovered end it can only reach one page further at a time.
    await p.ensure(100, 300);
    expect(p.total).toBe(300);
    await p.ensure(200, 300);
    expect(p.total).toBe(250);
    expect(p.totalIsExact).toBe(true);
  });

  it('keeps the caller order of an explicit id list and ranges across pages', async () => {
    const s = source(50, true);
    const ids = [40, 3, 17, 8, 25];
    const p = new CellPager({ kind: 'ids', ids, title: 'lasso' }, s.fetch, () => undefined, 2);
    expect(p.total).toBe(5);
    expect(await p.idsInRange(1, 4)).toEqual([3, 17, 8, 25]);
  });

  it('refetches stale pages after invalidate while still showing the old ones', async () => {
    const s = source(300, true);
    let changes = 0;
    const p = new CellPager({ kind: 'query', filter: {}, sort: 'id' }, s.fetch, () => changes++, 100);
    await p.ensure(0, 100);
    const before = s.calls.length;
    const v = p.version;
    p.invalidate();
    expect(p.version).toBe(v + 1);
    expect(p.get(5)?.id).toBe(6);
    await p.ensure(0, 100);
    expect(s.calls.length).toBe(before + 1);
    expect(changes).toBeGreaterThan(1);
  });

  it('evicts far pages beyond its cache budget', async () => {
    const s = source(2000, true);
    const p = new CellPager({ kind: 'query', filter: {}, sort: 'id' }, s.fetch, () => undefined, 100, 3);
    await p.init();
    await p.ensure(0, 100);
    await p.ensure(1000, 1100);
    await p.ensure(1100, 1300);
    expect(p.get(0)).toBeUndefined();
    expect(p.get(1250)?.id).toBe(1251);
  });
});
