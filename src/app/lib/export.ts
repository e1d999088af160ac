import { hashToInput, parseConfig, type Config } from '../../core/config.ts';
import { algoTag, type RunRow, type SavedRun } from './history.ts';

/** What a CSV says about its run, as `#` lines before the header (read with e.g. pandas' `comment='#'`). */
export interface CsvMeta {
  label?: string;
  /** The config hash (what `#…` of a share link holds); its secret is left out. */
  hash?: string;
}

/** One CSV row per evaluated round, after `# run:` and `# config:` lines when given. */
export function rowsToCsv(rows: RunRow[], meta: CsvMeta = {}): string {
  const cols: (keyof RunRow)[] = ['round', 'accuracy', 'loss', 'bytesSent', 't', 'minAccuracy', 'maxAccuracy'];
  const used = cols.filter((c) => c === 'round' || rows.some((r) => r[c] !== undefined));
  const lines: string[] = [];
  if (meta.label) lines.push(`# run: ${meta.label.replace(/[\r\n]+/g, ' ')}`);
  if (meta.hash !== undefined) lines.push(`# config: ${publicHash(meta.hash)}`);
  lines.push(used.join(','));
  for (const r of rows) lines.push(used.map((c) => (r[c] === undefined || Number.isNaN(r[c]) ? '' : String(r[c]))).join(','));
  return lines.join('\n') + '\n';
}

export function runToJson(run: Omit<SavedRun, 'id'> & { id?: number }): string {
  return JSON.stringify({ ...run, hash: publicHash(run.hash) }, null, 2);
}

/** A config hash without the room's secret (a shared file should not let anyone into the room). */
export function publicHash(hash: string): string {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  if (params.has('secret')) params.set('secret', '');
  return params.toString();
}

/**
 * A file name (no extension) with the experiment's key settings, e.g.
 * `fedavg-moons-dirichlet0.5-6tabs-seed1`; `variant` replaces the algorithm (compare runs).
 */
export function exportBaseName(
  c: Pick<Config, 'algo' | 'dataset' | 'model' | 'partition' | 'nodes' | 'seed'> & Partial<Config>,
  opts: { unit?: 'tabs' | 'nodes'; variant?: string; suffix?: string } = {},
): string {
  const part = (s: string) => s.toLowerCase().replace(/[^a-z0-9.]+/g, '').replace(/^\.+|\.+$/g, '');
  const parts = [
    slug(opts.variant ?? algoTag(c)),
    part(c.dataset),
    ...(c.model === 'mlp' ? [] : [part(c.model)]),
    part(c.partition),
    `${c.nodes}${opts.unit ?? 'tabs'}`,
    `seed${c.seed}`,
    ...(opts.suffix ? [slug(opts.suffix)] : []),
  ];
  return parts.filter(Boolean).join('-');
}

/** The file name for a saved run: from its config where the hash still parses, else from its label. */
export function savedRunBaseName(r: Pick<SavedRun, 'id' | 'kind' | 'label' | 'hash'>): string {
  try {
    const c = parseConfig(hashToInput(r.hash));
    return exportBaseName(c, r.kind === 'sim' ? { unit: 'nodes', variant: r.label.split(' ')[0] } : {});
  } catch {
    return `${slug(r.label)}${r.id !== undefined ? `-${r.id}` : ''}`;
  }
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
