import type { Config } from '../../core/config.ts';

/**
 * Teacher mode: `hide=seed,lr,presets` in the link hides those controls, like TensorFlow
 * Playground's `_hide` keys. Config keys hide their field; these names hide whole panels.
 */
export const SECTIONS = {
  presets: 'Presets',
  share: 'Share link',
  tabs: '"Open N tabs" button',
  preview: 'Partition preview',
  topology: 'Topology view',
  owndata: 'Your own data',
  boundaries: 'Decision boundaries',
  history: 'History',
  peers: 'Room table',
  log: 'Log',
} as const;

export type Section = keyof typeof SECTIONS;

export function parseHide(hide: string): Set<string> {
  return new Set(hide.split(',').map((s) => s.trim()).filter(Boolean));
}

export function formatHide(hidden: Set<string>): string {
  return [...hidden].sort().join(',');
}

export type HideKey = keyof Config | Section;
