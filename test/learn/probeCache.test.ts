import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheDate, probeCacheKey, readCachedProbe, saveCachedProbe, type CachedProbe, type DeviceInfo } from '../../src/live/training/device.ts';

class MemoryStorage {
  private m = new Map<string, string>();
  getItem(k: string) {
    return this.m.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.m.set(k, v);
  }
}

const device: DeviceInfo = {
  userAgent: 'HeadlessChrome/156',
  cores: 2,
  adapter: { available: true, isFallbackAdapter: true, vendor: 'google', architecture: 'swiftshader', device: '', description: '' },
};
const model = { model: '2nn', features: 784, numClasses: 10, batch: 10 };
const entry: CachedProbe = { backend: 'webgl', reason: 'auto → webgl: 2,900 samples/s vs cpu 1,000', measurements: [{ backend: 'webgl', samplesPerSecond: 2900 }], savedAt: Date.UTC(2026, 11, 1, 14, 3) };

describe('the backend probe cache', () => {
  beforeEach(() => {
    (globalThis as { localStorage?: unknown }).localStorage = new MemoryStorage();
  });
  afterEach(() => {
    delete (globalThis as { localStorage?: unknown }).localStorage;
  });

  it('keys by model shape, batch and device', () => {
    const k = probeCacheKey(model, device);
    expect(probeCacheKey({ ...model }, { ...device })).toBe(k);
    expect(probeCacheKey({ ...model, batch: 20 }, device)).not.toBe(k);
    expect(probeCacheKey({ ...model, model: 'cnn-small' }, device)).not.toBe(k);
    expect(probeCacheKey({ ...model, numClasses: 3 }, device)).not.toBe(k);
    expect(probeCacheKey(model, { ...device, cores: 8 })).not.toBe(k);
    expect(probeCacheKey(model, { ...device, userAgent: 'Chrome/157' })).not.toBe(k);
    expect(probeCacheKey(model, { ...device, adapter: { ...device.adapter, isFallbackAdapter: false, architecture: 'ampere' } })).not.toBe(k);
  });

  it('round-trips an entry and expires it after a week', () => {
    const k = probeCacheKey(model, device);
    expect(readCachedProbe(k)).toBeNull();
    saveCachedProbe(k, entry);
    expect(readCachedProbe(k, entry.savedAt + 1000)).toEqual(entry);
    expect(readCachedProbe(k, entry.savedAt + 8 * 24 * 3600 * 1000)).toBeNull();
    expect(readCachedProbe(k, entry.savedAt - 3600 * 1000)).toBeNull(); // saved "in the future": a clock jump
  });

  it('ignores corrupt entries and works without localStorage', () => {
    const k = probeCacheKey(model, device);
    (globalThis as unknown as { localStorage: MemoryStorage }).localStorage.setItem(k, '{"backend":1}');
    expect(readCachedProbe(k)).toBeNull();
    (globalThis as unknown as { localStorage: MemoryStorage }).localStorage.setItem(k, 'not json');
    expect(readCachedProbe(k)).toBeNull();
    delete (globalThis as { localStorage?: unknown }).localStorage;
    expect(readCachedProbe(k)).toBeNull();
    expect(() => saveCachedProbe(k, entry)).not.toThrow();
  });

  it('dates entries in UTC', () => {
    expect(cacheDate(entry.savedAt)).toBe('2026-12-01 14:03 UTC');
  });
});
