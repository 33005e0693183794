export function formatEta(s: number | null | undefined): string {
  if (s == null || !Number.isFinite(s)) return '';
  if (s < 60) return `${Math.max(1, Math.ceil(s))} s left`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s left`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min left`;
}

export function formatPercent(x: number | null | undefined, digits = 0): string {
  return x == null || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(digits)}%`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
