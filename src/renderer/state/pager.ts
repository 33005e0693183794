import type { CellSummary } from '../../shared/domain';

export type CellSort = 'id' | 'image' | 'class' | 'confidence' | 'uncertainty';

export interface CellFilter {
  imageIds?: number[];
  classIds?: number[];
  labeled?: 'labeled' | 'unlabeled' | 'any';
}

/** What the gallery lists: a filtered, sorted query, or an explicit ordered list (a map lasso, "similar to"). */
export type CellSource =
  | { kind: 'query'; filter: CellFilter; sort: CellSort }
  | { kind: 'ids'; ids: readonly number[]; title: string };

export interface PageFetch {
  query(
    args: CellFilter & { sort?: CellSort; cellIds?: number[]; offset?: number; limit?: number },
  ): Promise<CellSummary[]>;
  /** Exact count for a filter, or null when the engine cannot tell (then the pager discovers it page by page). */
  count(filter: CellFilter): Promise<number | null>;
}

/**
 * Pages of cell summaries behind a virtualized grid. Only pages the viewport touches are fetched and at most
 * `maxPages` stay cached, so a million-cell project costs the renderer a few hundred objects, not a million.
 */
export class CellPager {
  /** Page index -> cells and the generation they were fetched in; older generations show until refetched. */
  private pages = new Map<number, { cells: CellSummary[]; gen: number }>();
  private inFlight = new Map<number, Promise<void>>();
  private knownTotal: number | null = null;
  private discovered = 0;
  private exhausted = false;
  private generation = 0;

  constructor(
    readonly source: CellSource,
    private readonly fetch: PageFetch,
    private readonly onChange: () => void,
    readonly pageSize = 240,
    private readonly maxPages = 40,
  ) {
    if (source.kind === 'ids') this.knownTotal = source.ids.length;
  }

  /** Starts the count (where the engine offers one); the grid is usable before it returns. */
  async init(): Promise<void> {
    if (this.source.kind !== 'query') return;
    const gen = this.generation;
    const n = await this.fetch.count(this.source.filter).catch(() => null);
    if (gen !== this.generation || n == null) return;
    this.knownTotal = n;
    this.onChange();
  }

  /** Rows the grid should reserve: exact when known, else what is loaded plus one page while more may exist. */
  get total(): number {
    if (this.knownTotal != null) return this.knownTotal;
    return this.exhausted ? this.discovered : this.discovered + this.pageSize;
  }

  get totalIsExact(): boolean {
    return this.knownTotal != null || this.exhausted;
  }

  get(index: number): CellSummary | undefined {
    return this.pages.get(Math.floor(index / this.pageSize))?.cells[index % this.pageSize];
  }

  /** Loads every page overlapping [first, end); resolves when they are all present. */
  async ensure(first: number, end: number): Promise<void> {
    if (end <= first) return;
    const p0 = Math.floor(first / this.pageSize);
    const p1 = Math.floor((end - 1) / this.pageSize);
    const waits: Promise<void>[] = [];
    for (let p = p0; p <= p1; p++) {
      if (p * this.pageSize >= this.total) break;
      if (this.pages.get(p)?.gen === this.generation) continue;
      let w = this.inFlight.get(p);
      if (!w) {
        w = this.load(p).finally(() => this.inFlight.delete(p));
        this.inFlight.set(p, w);
      }
      waits.push(w);
    }
    await Promise.all(waits);
  }

  /** Generation the page holding `index` was fetched in (undefined when not loaded). */
  generationAt(index: number): number | undefined {
    return this.pages.get(Math.floor(index / this.pageSize))?.gen;
  }

  /** Ids of indices from..to inclusive (loading them first): shift-click ranges. */
  async idsInRange(from: number, to: number): Promise<number[]> {
    await this.ensure(from, to + 1);
    const out: number[] = [];
    for (let i = from; i <= to; i++) {
      const c = this.get(i);
      if (c) out.push(c.id);
    }
    return out;
  }

  /** Bumped by invalidate(): the grid re-requests its visible range when it changes. */
  get version(): number {
    return this.generation;
  }

  /**
   * Labels or predictions changed: cached pages become stale. They keep showing until their refetch lands, so
   * labeling does not blank the grid.
   */
  invalidate(): void {
    this.generation++;
    this.inFlight.clear();
    // Totals stay until the recount or the refetched pages correct them, so the scroll height does not jump.
    if (this.source.kind === 'query') void this.init();
    this.onChange();
  }

  private async load(page: number): Promise<void> {
    const gen = this.generation;
    const offset = page * this.pageSize;
    let cells: CellSummary[];
    if (this.source.kind === 'ids') {
      const slice = this.source.ids.slice(offset, offset + this.pageSize);
      if (slice.length === 0) return;
      const got = await this.fetch.query({ cellIds: [...slice], limit: slice.length });
      const byId = new Map(got.map((c) => [c.id, c]));
      // Keep the caller's order (similarity rank, lasso order); cells deleted since are skipped.
      cells = slice.map((id) => byId.get(id)).filter((c): c is CellSummary => c !== undefined);
    } else {
      cells = await this.fetch.query({
        ...this.source.filter,
        sort: this.source.sort,
        offset,
        limit: this.pageSize,
      });
      if (gen === this.generation) {
        if (cells.length < this.pageSize) {
          this.exhausted = true;
          this.discovered = offset + cells.length;
        } else this.discovered = Math.max(this.discovered, offset + cells.length);
      }
    }
    if (gen !== this.generation) return;
    this.pages.set(page, { cells, gen });
    if (this.pages.size > this.maxPages) {
      // Evict the page farthest from the one just loaded: the viewport is near it.
      let far = -1;
      for (const p of this.pages.keys()) if (far < 0 || Math.abs(p - page) > Math.abs(far - page)) far = p;
      this.pages.delete(far);
    }
    this.onChange();
  }
}
