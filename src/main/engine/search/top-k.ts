/** Bounded min-heap keeping the largest scores seen. */
export class TopK {
  size = 0;
  constructor(
    readonly scores: Float32Array,
    readonly slots: Int32Array,
  ) {}

  push(score: number, slot: number): void {
    const cap = this.scores.length;
    const s = this.scores;
    const l = this.slots;
    if (this.size === cap && score <= s[0]) return;
    if (this.size < cap) {
      let i = this.size++;
      s[i] = score;
      l[i] = slot;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (s[p] <= s[i]) break;
        [s[p], s[i]] = [s[i], s[p]];
        [l[p], l[i]] = [l[i], l[p]];
        i = p;
      }
      return;
    }
    s[0] = score;
    l[0] = slot;
    let i = 0;
    for (;;) {
      const a = 2 * i + 1;
      const b = a + 1;
      let m = i;
      if (a < cap && s[a] < s[m]) m = a;
      if (b < cap && s[b] < s[m]) m = b;
      if (m === i) return;
      [s[m], s[i]] = [s[i], s[m]];
      [l[m], l[i]] = [l[i], l[m]];
      i = m;
    }
  }
}
