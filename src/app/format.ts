export function fmtPct(v: number | null | undefined): string {
  return v === null || v === undefined || Number.isNaN(v) ? '—' : `${(v * 100).toFixed(1)}%`;
}

export const fmtMB = (bytes: number): string => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)} MB`;

/** A value already in MB (chart values). */
export const fmtMBValue = (mb: number): string => `${mb.toFixed(mb < 10 ? 2 : 1)} MB`;
