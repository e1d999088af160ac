/**
 * Coalesces a stream of per-item patches into few store updates. Patches of one item compose in
 * arrival order (rows append); the batch is handed to `apply` at most every `intervalMs`.
 * Snapshots that are costly to draw (models) go through `addSlow`: only the latest per item is
 * kept, and handed on at most every `slowIntervalMs`.
 */
export type Patch<T> = (current: T) => Partial<T>;

export class StreamBuffer<T> {
  private fast = new Map<number, Patch<T>[]>();
  private slow = new Map<number, Patch<T>>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private slowTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly intervalMs: number,
    private readonly slowIntervalMs: number,
    private readonly apply: (patches: Map<number, Patch<T>>) => void,
  ) {}

  addSlow(item: number, snapshot: Patch<T>): void {
    this.slow.set(item, snapshot);
    this.slowTimer ??= setTimeout(() => this.flushSlow(), this.slowIntervalMs);
  }

  add(item: number, patch: Patch<T>): void {
    const list = this.fast.get(item) ?? [];
    list.push(patch);
    this.fast.set(item, list);
    this.timer ??= setTimeout(() => this.flushFast(), this.intervalMs);
  }

  /** Hands on everything now (before a message that must see the latest state). */
  flush(): void {
    this.flushFast();
    this.flushSlow();
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.slowTimer) clearTimeout(this.slowTimer);
    this.timer = this.slowTimer = null;
    this.fast.clear();
    this.slow.clear();
  }

  private flushFast(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.fast.size === 0) return;
    const batch = new Map<number, Patch<T>>();
    for (const [item, list] of this.fast) batch.set(item, (current) => compose(current, list));
    this.fast = new Map();
    this.apply(batch);
  }

  private flushSlow(): void {
    if (this.slowTimer) clearTimeout(this.slowTimer);
    this.slowTimer = null;
    if (this.slow.size === 0) return;
    const batch = this.slow;
    this.slow = new Map();
    this.apply(batch);
  }
}

/** Applies patches one after another, each seeing the result of the ones before. */
function compose<T>(current: T, patches: Patch<T>[]): Partial<T> {
  let state = current;
  let merged: Partial<T> = {};
  for (const p of patches) {
    const part = p(state);
    merged = { ...merged, ...part };
    state = { ...state, ...part };
  }
  return merged;
}
