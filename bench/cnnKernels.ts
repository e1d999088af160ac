import * as tf from '@tensorflow/tfjs';
import { useFirstBackend } from '../src/core/learn/backend.ts';
import { Learner } from '../src/core/learn/learner.ts';
import { initialParams, type ModelName } from '../src/core/learn/models.ts';
import { Rng } from '../src/core/rng.ts';
import { useNodeBackend } from '../src/sim/nodeBackend.ts';
import { im2colT, replacedWasmKernel } from '../src/sim/wasmConvGrads.ts';
import { useOurWasmMatMul } from '../src/sim/wasmMatMul.ts';
import { fmt, log, loadNote, median, now, table, type Suite } from './common.ts';

/**
 * What CNN training costs in Node, per kernel and per sample.
 * 1. Each kernel of one cnn-small training step (batch 10) on cpu and on wasm (wasm with
 *    our convolution gradients, src/sim/wasmConvGrads.ts).
 * 2. The convolution gradients side by side: tfjs's reference kernel (cpu for the filter
 *    gradient, which wasm lacks; wasm's own for the input gradient) against ours, and the
 *    other option we weighed, im2col + the cpu backend's matMul (not registered anywhere).
 * 3. Learner.trainSync samples/s, the simulator's per-node training call: before (CNNs on
 *    cpu, as the simulator ran them) and after (wasm with our kernels).
 * 4. The paper CNN's dense layer (3136→512, batch 10) on wasm: its three products with wasm's
 *    own BatchMatMul and with ours (src/sim/wasmMatMul.ts), and the paper CNN's samples/s with
 *    each, interleaved.
 */

const BATCH = 10;
type Attrs = Record<string, unknown>;
const SAME = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1 };
const kernel = (name: string, inputs: Record<string, tf.Tensor>, attrs: Attrs) =>
  tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor;

interface Op {
  name: string;
  kernel: string;
  run: () => tf.Tensor;
}

const OPS: { name: string; kernel: string }[] = [
  { name: 'conv1 forward (28×28, 1→8)', kernel: 'Conv2D' },
  { name: 'conv1 filter gradient', kernel: 'Conv2DBackpropFilter' },
  { name: 'conv2 forward (14×14, 8→16)', kernel: 'Conv2D' },
  { name: 'conv2 input gradient', kernel: 'Conv2DBackpropInput' },
  { name: 'conv2 filter gradient', kernel: 'Conv2DBackpropFilter' },
  { name: 'maxpool1 forward + gradient', kernel: 'MaxPoolGrad' },
  { name: 'maxpool2 forward + gradient', kernel: 'MaxPoolGrad' },
  { name: 'dense 784→32 forward', kernel: 'BatchMatMul' },
];

/** The ops of OPS, in order, on the current backend. */
function ops(): { ops: Op[]; dispose: () => void } {
  const x1 = tf.randomNormal([BATCH, 28, 28, 1]) as tf.Tensor4D;
  const w1 = tf.randomNormal([3, 3, 1, 8]) as tf.Tensor4D;
  const x2 = tf.randomNormal([BATCH, 14, 14, 8]) as tf.Tensor4D;
  const w2 = tf.randomNormal([3, 3, 8, 16]) as tf.Tensor4D;
  const y1 = tf.randomNormal([BATCH, 28, 28, 8]) as tf.Tensor4D;
  const y2 = tf.randomNormal([BATCH, 14, 14, 16]) as tf.Tensor4D;
  const dy1 = tf.randomNormal([BATCH, 28, 28, 8]) as tf.Tensor4D;
  const dy2 = tf.randomNormal([BATCH, 14, 14, 16]) as tf.Tensor4D;
  const d1 = tf.randomNormal([BATCH, 784]) as tf.Tensor2D;
  const k1 = tf.randomNormal([784, 32]) as tf.Tensor2D;
  const pool = (y: tf.Tensor4D) => tf.grad((a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid').sum())(y);
  const runs: (() => tf.Tensor)[] = [
    () => tf.conv2d(x1, w1, 1, 'same'),
    () => kernel('Conv2DBackpropFilter', { x: x1, dy: dy1 }, { ...SAME, filterShape: [3, 3, 1, 8] }),
    () => tf.conv2d(x2, w2, 1, 'same'),
    () => kernel('Conv2DBackpropInput', { dy: dy2, filter: w2 }, { ...SAME, inputShape: [BATCH, 14, 14, 8] }),
    () => kernel('Conv2DBackpropFilter', { x: x2, dy: dy2 }, { ...SAME, filterShape: [3, 3, 8, 16] }),
    () => pool(y1),
    () => pool(y2),
    () => tf.matMul(d1, k1),
  ];
  return { ops: OPS.map((o, i) => ({ ...o, run: runs[i] })), dispose: () => tf.dispose([x1, w1, x2, w2, y1, y2, dy1, dy2, d1, k1]) };
}

/** Median ms of `reps` calls (after `warm` untimed ones), reading the result back each time. */
function timeIt(run: () => tf.Tensor, reps: number, warm = 1): number {
  const once = () => {
    const r = run();
    r.dataSync();
    r.dispose();
  };
  for (let i = 0; i < warm; i++) once();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = now();
    once();
    times.push(now() - t);
  }
  return median(times);
}

/** Option (b), measured only: the filter gradient as im2col + the cpu backend's matMul. */
function cpuIm2colFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: [number, number, number, number]): tf.Tensor {
  const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, 1, 1, 'same');
  const M = info.batchSize * info.outHeight * info.outWidth;
  const K = info.filterHeight * info.filterWidth * info.inChannels;
  const cols = new Float32Array(K * M);
  im2colT(x.dataSync() as Float32Array, info, cols);
  return tf.tidy(() => tf.matMul(tf.tensor2d(cols, [K, M]), dy.reshape([M, info.outChannels])).reshape(filterShape));
}

interface Layer {
  name: string;
  x: [number, number, number, number];
  f: [number, number, number, number];
  /** The cpu reference filter gradient takes about a minute here: time it once, not in --quick. */
  slowCpu?: boolean;
}

const LAYERS: Layer[] = [
  { name: 'cnn-small conv1 (28×28, 3×3, 1→8)', x: [BATCH, 28, 28, 1], f: [3, 3, 1, 8] },
  { name: 'cnn-small conv2 (14×14, 3×3, 8→16)', x: [BATCH, 14, 14, 8], f: [3, 3, 8, 16] },
  { name: 'cnn conv1 (28×28, 5×5, 1→32)', x: [BATCH, 28, 28, 1], f: [5, 5, 1, 32] },
  { name: 'cnn conv2 (14×14, 5×5, 32→64)', x: [BATCH, 14, 14, 32], f: [5, 5, 32, 64], slowCpu: true },
];

interface GradRow {
  layer: Layer;
  dwRef: number; // tfjs cpu
  dwIm2colCpu: number;
  dwOurs: number; // wasm
  dxRef: number; // tfjs wasm's own
  dxOurs: number;
}

async function gradRows(reps: number, quick: boolean): Promise<GradRow[]> {
  const rows: GradRow[] = [];
  for (const layer of LAYERS) {
    const outShape: [number, number, number, number] = [layer.x[0], layer.x[1], layer.x[2], layer.f[3]];
    const xv = tf.randomNormal(layer.x).dataSync();
    const dyv = tf.randomNormal(outShape).dataSync();
    const fv = tf.randomNormal(layer.f).dataSync();
    const on = async (backend: 'cpu' | 'wasm') => {
      await useFirstBackend([backend]);
      return { x: tf.tensor4d(xv, layer.x), dy: tf.tensor4d(dyv, outShape), w: tf.tensor4d(fv, layer.f) };
    };
    log(`cnn-kernels: gradients of ${layer.name}`);
    let t = await on('cpu');
    const dwAttrs = { ...SAME, filterShape: layer.f };
    const dxAttrs = { ...SAME, inputShape: layer.x };
    const skip = layer.slowCpu && quick;
    const dwRef = skip ? NaN : timeIt(() => kernel('Conv2DBackpropFilter', { x: t.x, dy: t.dy }, dwAttrs), layer.slowCpu ? 1 : reps, layer.slowCpu ? 0 : 1);
    const dwIm2colCpu = timeIt(() => cpuIm2colFilterGrad(t.x, t.dy, layer.f), reps);
    tf.dispose([t.x, t.dy, t.w]);
    t = await on('wasm');
    // A fresh dy buffer each call, as in training: the wasm matMul caches its packed right operand by buffer.
    const w = t;
    const dwOurs = timeIt(() => tf.tidy(() => kernel('Conv2DBackpropFilter', { x: w.x, dy: w.dy.mul(1) }, dwAttrs)), reps);
    const dxOurs = timeIt(() => kernel('Conv2DBackpropInput', { dy: t.dy, filter: t.w }, dxAttrs), reps);
    const own = replacedWasmKernel('Conv2DBackpropInput');
    let dxRef = NaN;
    if (own) {
      own.setupFunc?.(tf.backend()); // it was unregistered before the backend initialised it
      dxRef = timeIt(() => tf.engine().makeTensorFromTensorInfo(own.kernelFunc({ inputs: { dy: w.dy, filter: w.w }, backend: tf.backend(), attrs: dxAttrs as tf.NamedAttrMap }) as tf.TensorInfo), reps);
    }
    tf.dispose([t.x, t.dy, t.w]);
    rows.push({ layer, dwRef, dwIm2colCpu, dwOurs, dxRef, dxOurs });
  }
  return rows;
}

/** Learner.trainSync samples/s (one shuffled epoch of `n` random images, batch 10, SGD). */
async function samplesPerSec(backend: 'cpu' | 'wasm', model: ModelName, n: number): Promise<number> {
  await useFirstBackend([backend]);
  log(`cnn-kernels: ${model} training on ${backend} (${n} samples)`);
  const rng = Rng.seed(7);
  const data = { n, x: Float32Array.from({ length: n * 784 }, () => rng.next()), y: Uint8Array.from({ length: n }, () => rng.int(10)) };
  const learner = new Learner(model, 784, 10);
  const init = initialParams(learner.spec, Rng.seed(1));
  const opts = { epochs: 1, steps: 0, batch: BATCH, lr: 0.05 };
  learner.trainSync(init, { n: BATCH, x: data.x.subarray(0, BATCH * 784), y: data.y.subarray(0, BATCH) }, opts, Rng.seed(2)); // warm-up
  const t = now();
  learner.trainSync(init, data, opts, Rng.seed(3));
  const ms = now() - t;
  learner.dispose();
  return (n / ms) * 1000;
}

const DENSE_PRODUCTS: { name: string; a: number[]; b: number[]; tA: boolean; tB: boolean; weights: 'a' | 'b' }[] = [
  { name: 'forward x·W [10,3136]·[3136,512]', a: [BATCH, 3136], b: [3136, 512], tA: false, tB: false, weights: 'b' },
  { name: 'input gradient dy·Wᵀ', a: [BATCH, 512], b: [3136, 512], tA: false, tB: true, weights: 'b' },
  { name: 'kernel gradient xᵀ·dy', a: [BATCH, 3136], b: [BATCH, 512], tA: true, tB: false, weights: 'a' },
];

/**
 * ms per product with wasm's own BatchMatMul and with ours. As in training, the weights (or,
 * for the kernel gradient, the activations) are a new buffer every call: XNNPACK packs a right
 * operand per buffer, so a reused buffer would hide that cost.
 */
function denseRows(reps: number): { name: string; own: number; ours: number }[] {
  return DENSE_PRODUCTS.map((p) => {
    const a0 = tf.randomNormal(p.a);
    const b0 = tf.randomNormal(p.b);
    let k = 0;
    const run = () =>
      tf.tidy(() => {
        const shift = tf.scalar(++k * 1e-6);
        const a = p.weights === 'a' ? tf.add(a0, shift) : a0;
        const b = p.weights === 'b' ? tf.add(b0, shift) : b0;
        return tf.matMul(a, b, p.tA, p.tB);
      });
    const times = { own: [] as number[], ours: [] as number[] };
    for (let r = 0; r < 3; r++)
      for (const ours of [false, true]) {
        useOurWasmMatMul(ours);
        times[ours ? 'ours' : 'own'].push(timeIt(run, reps));
      }
    tf.dispose([a0, b0]);
    return { name: p.name, own: median(times.own), ours: median(times.ours) };
  });
}

export const cnnKernels: Suite = {
  name: 'cnn-kernels',
  summary: "CNN training in Node: per-kernel cost (cpu vs wasm), our wasm convolution gradients vs tfjs's, and cnn-small/cnn samples/s before vs after",
  async run(opts) {
    const reps = opts.reps ?? (opts.quick ? 2 : 5);
    await useNodeBackend('auto', 'cnn-small'); // registers the wasm backend, its paths and our kernels
    const results = new Map<string, Map<string, string>>();
    for (const backend of ['cpu', 'wasm'] as const) {
      await useFirstBackend([backend]);
      log(`cnn-kernels on ${tf.getBackend()}`);
      const { ops: list, dispose } = ops();
      for (const op of list) {
        const cell = tf.getKernel(op.kernel, backend) ? `${fmt.f(timeIt(op.run, reps), 1)} ms` : `no ${op.kernel} kernel`;
        if (!results.has(op.name)) results.set(op.name, new Map());
        results.get(op.name)!.set(backend, cell);
      }
      dispose();
    }
    const grads = await gradRows(reps, opts.quick);
    const n = opts.quick ? 50 : 200;
    const speed = [
      { model: 'cnn-small' as const, before: await samplesPerSec('cpu', 'cnn-small', opts.quick ? 20 : 60), after: await samplesPerSec('wasm', 'cnn-small', n) },
      { model: 'cnn' as const, before: NaN, after: await samplesPerSec('wasm', 'cnn', n) },
    ];
    await useFirstBackend(['wasm']);
    log('cnn-kernels: the paper CNN dense layer, own vs our BatchMatMul');
    const dense = denseRows(reps);
    const cnnSpeed = { own: [] as number[], ours: [] as number[] };
    for (let r = 0; r < (opts.quick ? 1 : 2); r++)
      for (const ours of [false, true]) {
        useOurWasmMatMul(ours);
        cnnSpeed[ours ? 'ours' : 'own'].push(await samplesPerSec('wasm', 'cnn', n));
      }
    useOurWasmMatMul(true);
    const ms = (x: number) => (Number.isFinite(x) ? `${fmt.f(x, 1)} ms` : '–');
    const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${fmt.f(a / b, 1)}×` : '–');
    return [
      '## cnn-kernels',
      '',
      `One call per kernel, batch ${BATCH}, median of ${reps} after a warm-up (ms of wall time). A cnn-small training step needs every row once (the filter gradient for both convolutions). wasm runs our Conv2DBackpropFilter and Conv2DBackpropInput (src/sim/wasmConvGrads.ts).`,
      '',
      table(
        ['op', 'kernel', 'cpu', 'wasm'],
        OPS.map((o) => [o.name, o.kernel, results.get(o.name)?.get('cpu') ?? '–', results.get(o.name)?.get('wasm') ?? '–']),
      ),
      '',
      `Convolution gradients, batch ${BATCH}, 'same' padding, stride 1, ms per call (median of ${reps}; the cpu reference for the paper CNN's conv2 is one call${opts.quick ? ', skipped with --quick' : ''}). Filter gradient: tfjs's cpu kernel (wasm has none) vs ours on wasm, and im2col + the cpu backend's matMul (option b, not registered). Input gradient: the wasm backend's own kernel vs ours.`,
      '',
      table(
        ['layer', 'dW tfjs cpu', 'dW im2col + cpu matMul', 'dW ours (wasm)', 'ours vs tfjs cpu', 'dX tfjs wasm', 'dX ours (wasm)', 'ours vs tfjs wasm'],
        grads.map((g) => [g.layer.name, ms(g.dwRef), ms(g.dwIm2colCpu), ms(g.dwOurs), ratio(g.dwRef, g.dwOurs), ms(g.dxRef), ms(g.dxOurs), ratio(g.dxRef, g.dxOurs)]),
      ),
      '',
      `Training samples/s (\`Learner.trainSync\`, the simulator's per-node call; batch ${BATCH}, SGD, one epoch of random images after a one-batch warm-up). Before: CNNs on cpu with tfjs's kernels, as the simulator ran them; after: wasm with ours. The paper CNN on cpu is not timed (about a minute per batch here).`,
      '',
      table(
        ['model', 'before: cpu', 'after: wasm + our kernels', 'speed-up'],
        speed.map((s) => [s.model, Number.isFinite(s.before) ? fmt.f(s.before, 1) : '–', fmt.f(s.after, 1), ratio(s.after, s.before)]),
      ),
      '',
      `The paper CNN's dense layer on wasm, wasm's own BatchMatMul against ours (src/sim/wasmMatMul.ts), each product with a fresh weight buffer per call as in training; ms per call, median of 3 interleaved medians of ${reps}. Then the paper CNN's training samples/s with each (the same call as above, alternated ${opts.quick ? 'once' : 'twice'}).`,
      '',
      table(
        ['product', "wasm's own", 'ours', 'speed-up'],
        [...dense.map((d) => [d.name, ms(d.own), ms(d.ours), ratio(d.own, d.ours)]), ['paper CNN training, samples/s', fmt.f(median(cnnSpeed.own), 1), fmt.f(median(cnnSpeed.ours), 1), ratio(median(cnnSpeed.ours), median(cnnSpeed.own))]],
      ),
      '',
      `Measured at ${loadNote()}.`,
    ].join('\n');
  },
};
