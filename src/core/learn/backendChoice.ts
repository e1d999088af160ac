import type { BackendName } from './backend.ts';

/**
 * Choosing a tfjs backend for `backend=auto`, as pure functions: the caller measures,
 * these decide. Which backend starts first says nothing about which trains fastest: a
 * tiny MLP is fastest on the CPU everywhere, and a software WebGPU adapter (SwiftShader)
 * shared by six tabs on two cores never finished a round.
 */

/** What `navigator.gpu.requestAdapter()` said. `available: false`: no `navigator.gpu`, or no adapter. */
export interface AdapterInfo {
  available: boolean;
  /** `info.isFallbackAdapter`, or the older `adapter.isFallbackAdapter`. */
  isFallbackAdapter: boolean;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

/** One candidate's timed probe: a few training steps of this model at this batch size. */
export interface ProbeMeasurement {
  backend: BackendName;
  /** null when the backend did not start, failed, or ran past its time cap. */
  samplesPerSecond: number | null;
  /** Why there is no number ("timed out after 4,000 ms", "setBackend returned false"). */
  error?: string;
}

/**
 * Below this many parameters the CPU backend wins without measuring. A GPU backend pays a
 * fixed cost per kernel launch (a WebGL draw call or a WebGPU dispatch, plus the readback
 * sync), and one SGD step of a small dense net is some 40 kernels, so a step costs a few ms
 * on a GPU whatever the model's size. The CPU backend spends about 6 × parameters × batch
 * flops per step (forward, two backward products): at 10,000 parameters and batch 10 that is
 * 0.6 Mflop, well under a millisecond in tfjs's JS kernels. Measured with this probe in
 * headless Chromium on the 2-core dev machine (one tab, batch 10, samples/s):
 *   mlp on blobs,      371 params: cpu 7,500–11,500, webgl 1,400–1,900, webgpu (SwiftShader) 130–140
 *   mlp on MNIST,   13,002 params: cpu 3,000–4,200,  webgl 1,750–2,100
 *   cnn-small,      26,698 params: cpu 75–85,        webgl 125
 *   2nn,           199,210 params: cpu 415–530,      webgl 825–980
 * Nothing under 10,000 came close to a GPU win, so 10,000 is a safe floor: above it the probe
 * decides (the dense 13k mlp still goes to the CPU, by measurement). Parameter count is a proxy
 * for work per sample that convolutions break (weights reused at every pixel), but every CNN in
 * the zoo is above the floor, so convolutions always get measured.
 */
export const SMALL_MODEL_PARAMS = 10_000;

/**
 * A GPU backend must beat the CPU by this factor to be chosen. Six tabs probe at once, so
 * measurements are noisy; near a tie, the CPU has no GPU process to share between tabs and
 * no WebGL context limit.
 */
export const CPU_PREFERENCE = 1.15;

export interface ProbePlan {
  /** The whole chain, fastest-first as the platform lists it. */
  candidates: BackendName[];
  /** Set when no measurement is needed. */
  decided: BackendName | null;
  /** The candidates to measure, in chain order. */
  probe: BackendName[];
  /** Candidates left out, with why ("software adapter (swiftshader)"). */
  skipped: { backend: BackendName; why: string }[];
  parameters: number;
  /** Reason text when `decided` is set. */
  reason: string;
}

export interface BackendChoice {
  backend: BackendName;
  /** The order to start backends in: the choice first, the rest of the chain as fallbacks. */
  order: BackendName[];
  reason: string;
}

export function isSoftwareAdapter(a: AdapterInfo): boolean {
  const arch = a.architecture.toLowerCase();
  const text = `${a.vendor} ${a.description} ${a.device}`.toLowerCase();
  return a.isFallbackAdapter || arch.includes('swiftshader') || text.includes('swiftshader') || /\b(llvmpipe|lavapipe|software)\b/.test(text);
}

export function describeAdapter(a: AdapterInfo): string {
  return a.architecture || a.description || a.vendor || 'unknown';
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Which candidates to measure, or a decision that needs none. */
export function planProbe(input: { candidates: readonly BackendName[]; parameters: number; adapter: AdapterInfo | null }): ProbePlan {
  const { candidates, parameters, adapter } = input;
  const skipped: ProbePlan['skipped'] = [];
  if (candidates.length === 0) throw new Error('no backend candidates');
  if (parameters < SMALL_MODEL_PARAMS && candidates.includes('cpu')) {
    return {
      candidates: [...candidates],
      decided: 'cpu',
      probe: [],
      skipped,
      parameters,
      reason: `auto → cpu: small model (${fmt(parameters)} parameters < ${fmt(SMALL_MODEL_PARAMS)}), CPU is fastest`,
    };
  }
  const probe: BackendName[] = [];
  for (const b of candidates) {
    if (b === 'webgpu') {
      if (!adapter || !adapter.available) {
        skipped.push({ backend: b, why: 'no adapter' });
        continue;
      }
      // A software adapter is never worth probing while anything else can run: it is slow
      // alone and stalls when tabs share it, and a probe of it would slow the other tabs.
      if (isSoftwareAdapter(adapter) && candidates.some((c) => c !== 'webgpu')) {
        skipped.push({ backend: b, why: `software adapter (${describeAdapter(adapter)})` });
        continue;
      }
    }
    probe.push(b);
  }
  if (probe.length === 1) {
    return { candidates: [...candidates], decided: probe[0], probe: [], skipped, parameters, reason: `auto → ${probe[0]}: the only candidate${skipNote(skipped)}` };
  }
  if (probe.length === 0) {
    // Every candidate was skipped (only a webgpu with no adapter): try it anyway, it fails loudly.
    return { candidates: [...candidates], decided: candidates[0], probe: [], skipped, parameters, reason: `auto → ${candidates[0]}: nothing else to try${skipNote(skipped)}` };
  }
  return { candidates: [...candidates], decided: null, probe, skipped, parameters, reason: '' };
}

function skipNote(skipped: ProbePlan['skipped']): string {
  return skipped.map((s) => `; ${s.backend} skipped: ${s.why}`).join('');
}

/**
 * The fastest measured candidate, with the CPU kept on a near-tie (CPU_PREFERENCE).
 * The reason names every measured speed and every skipped candidate.
 */
export function chooseBackend(plan: ProbePlan, measurements: readonly ProbeMeasurement[]): BackendChoice {
  // Fallbacks: the rest of the chain in order, skipped candidates last.
  const isSkipped = (b: BackendName) => plan.skipped.some((s) => s.backend === b);
  const orderFrom = (first: BackendName) => [first, ...plan.candidates.filter((b) => b !== first && !isSkipped(b)), ...plan.candidates.filter((b) => b !== first && isSkipped(b))];
  if (plan.decided) return { backend: plan.decided, order: orderFrom(plan.decided), reason: plan.reason };

  const measured = plan.probe.map((b) => measurements.find((m) => m.backend === b) ?? { backend: b, samplesPerSecond: null, error: 'not measured' });
  const ok = measured.filter((m): m is ProbeMeasurement & { samplesPerSecond: number } => m.samplesPerSecond !== null && Number.isFinite(m.samplesPerSecond) && m.samplesPerSecond > 0);
  let best: (typeof ok)[number] | undefined;
  for (const m of ok) if (!best || m.samplesPerSecond > best.samplesPerSecond) best = m;
  const cpu = ok.find((m) => m.backend === 'cpu');
  let tieNote = '';
  if (best && cpu && best !== cpu && best.samplesPerSecond < cpu.samplesPerSecond * CPU_PREFERENCE) {
    tieNote = ` (${best.backend} is within ${Math.round((CPU_PREFERENCE - 1) * 100)}% of cpu, so cpu)`;
    best = cpu;
  }
  const winner: BackendName = best?.backend ?? (plan.probe.includes('cpu') ? 'cpu' : plan.probe[plan.probe.length - 1]);
  const others = measured.filter((m) => !best || m.backend !== winner).map((m) => (m.samplesPerSecond !== null && m.samplesPerSecond > 0 ? `${m.backend} ${fmt(m.samplesPerSecond)}` : `${m.backend} failed (${m.error ?? 'no result'})`));
  const head = best
    ? `auto → ${winner}: ${fmt(best.samplesPerSecond)} samples/s${others.length ? ` vs ${others.join(', ')}` : ''}${tieNote}`
    : `auto → ${winner}: every probe failed (${others.join(', ')})`;
  return { backend: winner, order: orderFrom(winner), reason: head + skipNote(plan.skipped) };
}
