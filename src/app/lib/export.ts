import type { RunRow, SavedRun } from './history.ts';

/** One CSV row per evaluated round. */
export function rowsToCsv(rows: RunRow[]): string {
  const cols: (keyof RunRow)[] = ['round', 'accuracy', 'loss', 'bytesSent', 't', 'minAccuracy', 'maxAccuracy'];
  const used = cols.filter((c) => c === 'round' || rows.some((r) => r[c] !== undefined));
  const lines = [used.join(',')];
  for (const r of rows) lines.push(used.map((c) => (r[c] === undefined || Number.isNaN(r[c]) ? '' : String(r[c]))).join(','));
  return lines.join('\n') + '\n';
}

export function runToJson(run: Omit<SavedRun, 'id'> & { id?: number }): string {
  return JSON.stringify(run, null, 2);
}

export function download(filename: string, content: string | Blob, type = 'text/plain'): void {
  const blob = typeof content === 'string' ? new Blob([content], { type }) : content;
  const url = URL.createObjectURL(blob);
  downloadDataUrl(filename, url);
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Saves `href` (a data: or blob: URL) as `filename` through a temporary link. */
export function downloadDataUrl(filename: string, href: string): void {
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

export const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'run';
