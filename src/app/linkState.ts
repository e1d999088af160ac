import { create } from 'zustand';
import type { ConfigErrors } from '../core/config.ts';

/**
 * What the page's own link said, when some of its values were bad (main.tsx sets it once,
 * before the first render). The setup form shows those raw values and marks them; the status
 * line says why this tab did not join. Empty `errors`: the link was fine.
 */
export interface LinkState {
  /** The link's key/value pairs as written (a short link already expanded). */
  input: Record<string, string>;
  /** Per bad or unknown key, what is wrong with it. */
  errors: ConfigErrors;
  set(input: Record<string, string>, errors: ConfigErrors): void;
}

export const useLinkState = create<LinkState>((set) => ({
  input: {},
  errors: {},
  set: (input, errors) => set({ input, errors }),
}));

/** Whether the page's link had a bad value (so the tab did not join). */
export const useLinkBroken = () => useLinkState((s) => Object.keys(s.errors).length > 0);
