import type { BackendName } from '../../core/learn/backend.ts';
import type { AdapterInfo, ProbeMeasurement } from '../../core/learn/backendChoice.ts';

/**
 * What a backend probe depends on besides the model: the browser, the cores and the GPU
 * adapter. Runs in the page and in workers (both have `navigator.gpu` where WebGPU exists).
 */
export interface DeviceInfo {
  userAgent: string;
  cores: number;
  adapter: AdapterInfo;
}

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
  requestAdapterInfo?: () => Promise<{ vendor?: string; architecture?: string; device?: string; description?: string }>;
}

const NO_ADAPTER: AdapterInfo = { available: false, isFallbackAdapter: false, vendor: '', architecture: '', device: '', description: '' };

/** The adapter tfjs-backend-webgpu would get (it asks for high-performance). Never throws; 2 s at most. */
export async function readAdapterInfo(): Promise<AdapterInfo> {
  const gpu = (globalThis.navigator as unknown as { gpu?: { requestAdapter(o?: object): Promise<GpuAdapterLike | null> } } | undefined)?.gpu;
  if (!gpu) return NO_ADAPTER;
  try {
    const adapter = await Promise.race([
      gpu.requestAdapter({ powerPreference: 'high-performance' }),
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 2000)),
    ]);
    if (!adapter) return NO_ADAPTER;
    // `adapter.info` is current; `requestAdapterInfo()` and `adapter.isFallbackAdapter` are the older API.
    const info = adapter.info ?? (adapter.requestAdapterInfo ? await adapter.requestAdapterInfo().catch(() => undefined) : undefined) ?? {};
    return {
      available: true,
      isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? adapter.isFallbackAdapter),
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
    };
  } catch {
    return NO_ADAPTER;
  }
}

export async function describeDevice(): Promise<DeviceInfo> {
  const nav = globalThis.navigator;
  return { userAgent: nav?.userAgent ?? '', cores: nav?.hardwareConcurrency ?? 0, adapter: await readAdapterInfo() };
}

/** A finished probe, as the page keeps it in localStorage. */
export interface CachedProbe {
  backend: BackendName;
  reason: string;
  measurements: ProbeMeasurement[];
  savedAt: number;
}

const CACHE_PREFIX = 'murmuration:backend-probe:v1:';
/** Browsers and drivers change under a stable user agent string often enough: probe again after a week. */
const CACHE_MAX_AGE_MS = 7 * 24 * 3600 * 1000;

function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** One entry per model shape, batch size and device. */
export function probeCacheKey(m: { model: string; features: number; numClasses: number; batch: number }, d: DeviceInfo): string {
  const a = d.adapter;
  const device = [d.userAgent, d.cores, a.available, a.isFallbackAdapter, a.vendor, a.architecture, a.device, a.description].join('|');
  return `${CACHE_PREFIX}${m.model}:${m.features}x${m.numClasses}:b${m.batch}:${fnv1a(device)}`;
}

function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null; // a sandboxed frame throws on access
  }
}

export function readCachedProbe(key: string, now = Date.now()): CachedProbe | null {
  try {
    const text = storage()?.getItem(key);
    if (!text) return null;
    const v = JSON.parse(text) as CachedProbe;
    if (typeof v.backend !== 'string' || typeof v.reason !== 'string' || typeof v.savedAt !== 'number' || !Array.isArray(v.measurements)) return null;
    if (!(now - v.savedAt < CACHE_MAX_AGE_MS) || v.savedAt > now + 60_000) return null;
    return v;
  } catch {
    return null;
  }
}

export function saveCachedProbe(key: string, value: CachedProbe): void {
  try {
    storage()?.setItem(key, JSON.stringify(value));
  } catch {
    // full or unavailable: the next load probes again
  }
}

/** "2026-12-01 14:03 UTC" */
export function cacheDate(savedAt: number): string {
  return `${new Date(savedAt).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
