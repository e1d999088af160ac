import { describe, expect, it } from 'vitest';
import { chooseBackend, CPU_PREFERENCE, isSoftwareAdapter, planProbe, SMALL_MODEL_PARAMS, type AdapterInfo, type ProbeMeasurement } from '../../src/core/learn/backendChoice.ts';
import type { BackendName } from '../../src/core/learn/backend.ts';
import { describeModel } from '../../src/core/learn/models.ts';

const CHAIN: BackendName[] = ['webgpu', 'webgl', 'cpu'];
const swiftshader: AdapterInfo = { available: true, isFallbackAdapter: true, vendor: 'google', architecture: 'swiftshader', device: '', description: '' };
const realGpu: AdapterInfo = { available: true, isFallbackAdapter: false, vendor: 'nvidia', architecture: 'ampere', device: '', description: '' };
const noAdapter: AdapterInfo = { available: false, isFallbackAdapter: false, vendor: '', architecture: '', device: '', description: '' };
const m = (backend: BackendName, samplesPerSecond: number | null, error?: string): ProbeMeasurement => ({ backend, samplesPerSecond, ...(error ? { error } : {}) });

describe('planProbe', () => {
  it('sends a small model to the CPU without measuring, and says so with its size', () => {
    const plan = planProbe({ candidates: CHAIN, parameters: 371, adapter: realGpu });
    expect(plan.decided).toBe('cpu');
    expect(plan.probe).toEqual([]);
    const c = chooseBackend(plan, []);
    expect(c.backend).toBe('cpu');
    expect(c.order[0]).toBe('cpu');
    expect(c.order).toHaveLength(3);
    expect(c.reason).toBe('auto → cpu: small model (371 parameters < 10,000), CPU is fastest');
  });

  it('the default mlp on 2-D blobs is under the threshold and the paper 2NN is above it', () => {
    expect(describeModel('mlp', 2, 3).size).toBeLessThan(SMALL_MODEL_PARAMS);
    expect(describeModel('2nn', 784, 10).size).toBeGreaterThanOrEqual(SMALL_MODEL_PARAMS);
    expect(describeModel('cnn-small', 784, 10).size).toBeGreaterThanOrEqual(SMALL_MODEL_PARAMS);
  });

  it('measures at the threshold (the rule is strictly below)', () => {
    expect(planProbe({ candidates: CHAIN, parameters: SMALL_MODEL_PARAMS, adapter: realGpu }).decided).toBeNull();
    expect(planProbe({ candidates: CHAIN, parameters: SMALL_MODEL_PARAMS - 1, adapter: realGpu }).decided).toBe('cpu');
  });

  it('does not probe a software WebGPU adapter while other candidates exist', () => {
    const plan = planProbe({ candidates: CHAIN, parameters: 199_210, adapter: swiftshader });
    expect(plan.probe).toEqual(['webgl', 'cpu']);
    expect(plan.skipped).toEqual([{ backend: 'webgpu', why: 'software adapter (swiftshader)' }]);
  });

  it('recognises the fallback flag alone, and the architecture alone', () => {
    expect(isSoftwareAdapter({ ...realGpu, isFallbackAdapter: true })).toBe(true);
    expect(isSoftwareAdapter({ ...realGpu, architecture: 'swiftshader' })).toBe(true);
    expect(isSoftwareAdapter({ ...realGpu, description: 'llvmpipe (LLVM 15.0.7, 256 bits)' })).toBe(true);
    expect(isSoftwareAdapter(realGpu)).toBe(false);
  });

  it('skips WebGPU when there is no adapter, and probes a real adapter', () => {
    expect(planProbe({ candidates: CHAIN, parameters: 199_210, adapter: noAdapter }).skipped).toEqual([{ backend: 'webgpu', why: 'no adapter' }]);
    expect(planProbe({ candidates: CHAIN, parameters: 199_210, adapter: null }).probe).toEqual(['webgl', 'cpu']);
    expect(planProbe({ candidates: CHAIN, parameters: 199_210, adapter: realGpu }).probe).toEqual(['webgpu', 'webgl', 'cpu']);
  });

  it('a software adapter is still used when it is the only candidate', () => {
    const plan = planProbe({ candidates: ['webgpu'], parameters: 199_210, adapter: swiftshader });
    expect(plan.decided).toBe('webgpu');
  });

  it('with one candidate left there is nothing to measure', () => {
    const plan = planProbe({ candidates: ['webgpu', 'cpu'], parameters: 199_210, adapter: swiftshader });
    expect(plan.decided).toBe('cpu');
    expect(chooseBackend(plan, []).reason).toBe('auto → cpu: the only candidate; webgpu skipped: software adapter (swiftshader)');
  });
});

describe('chooseBackend', () => {
  const big = (adapter: AdapterInfo | null) => planProbe({ candidates: CHAIN, parameters: 199_210, adapter });

  it('picks the fastest measured backend and names every speed and every skip', () => {
    const c = chooseBackend(big(swiftshader), [m('webgl', 2900), m('cpu', 1000)]);
    expect(c.backend).toBe('webgl');
    expect(c.order).toEqual(['webgl', 'cpu', 'webgpu']);
    expect(c.reason).toBe('auto → webgl: 2,900 samples/s vs cpu 1,000; webgpu skipped: software adapter (swiftshader)');
  });

  it('picks the CPU when it measured fastest', () => {
    const c = chooseBackend(big(realGpu), [m('webgpu', 300), m('webgl', 800), m('cpu', 1200)]);
    expect(c.backend).toBe('cpu');
    expect(c.reason).toBe('auto → cpu: 1,200 samples/s vs webgpu 300, webgl 800');
  });

  it('picks a real WebGPU adapter when it is fastest', () => {
    const c = chooseBackend(big(realGpu), [m('webgpu', 9000), m('webgl', 3000), m('cpu', 1000)]);
    expect(c.backend).toBe('webgpu');
    expect(c.order).toEqual(['webgpu', 'webgl', 'cpu']);
  });

  it('keeps the CPU on a near tie, and not beyond the margin', () => {
    const near = chooseBackend(big(null), [m('webgl', 1000 * (CPU_PREFERENCE - 0.01)), m('cpu', 1000)]);
    expect(near.backend).toBe('cpu');
    expect(near.reason).toContain('within 15% of cpu');
    const clear = chooseBackend(big(null), [m('webgl', 1000 * (CPU_PREFERENCE + 0.01)), m('cpu', 1000)]);
    expect(clear.backend).toBe('webgl');
  });

  it('ignores failed and timed-out candidates and reports why', () => {
    const c = chooseBackend(big(realGpu), [m('webgpu', null, 'no rate within 4,000 ms'), m('webgl', 2000), m('cpu', 900)]);
    expect(c.backend).toBe('webgl');
    expect(c.reason).toBe('auto → webgl: 2,000 samples/s vs webgpu failed (no rate within 4,000 ms), cpu 900');
  });

  it('treats NaN, zero and missing measurements as failures', () => {
    const c = chooseBackend(big(realGpu), [m('webgpu', Number.NaN), m('webgl', 0)]);
    expect(c.backend).toBe('cpu');
    expect(c.reason).toMatch(/^auto → cpu: every probe failed/);
    expect(c.reason).toContain('cpu failed (not measured)');
  });

  it('never picks a software adapter over a candidate that ran, even if someone measured it fast', () => {
    // The plan never asks for it; a stray measurement of it is not a candidate.
    const c = chooseBackend(big(swiftshader), [m('webgpu', 99_999), m('webgl', 500), m('cpu', 400)]);
    expect(c.backend).toBe('webgl');
    expect(c.reason).not.toContain('99,999');
  });
});
