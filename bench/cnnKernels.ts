import * as tf from '@tensorflow/tfjs';
import { useFirstBackend } from '../src/core/learn/backend.ts';
import { useNodeBackend } from '../src/sim/nodeBackend.ts';
import { fmt, log, loadNote, median, now, table, type Suite } from './common.ts';

/**
 * Why cnn-small trains so slowly in Node: the per-kernel cost of one training step of
 * cnn-small's layers (batch 10, 28×28×1 → conv3×3(8) → pool → conv3×3(16) → pool), on
 * the cpu backend, and on wasm where the kernel exists. Forward convolutions are cheap;
 * the filter gradient (Conv2DBackpropFilter) dominates on cpu, and wasm has no such kernel.
 */

const BATCH = 10;

interface Op {
  name: string;
  kernel: string;
  run: () => tf.Tensor | tf.Tensor[];
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
  const conv = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1 };
  const kernel = (name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>) =>
    tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor;
  const pool = (y: tf.Tensor4D) => tf.grad((a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid').sum())(y);
  const runs: (() => tf.Tensor)[] = [
    () => tf.conv2d(x1, w1, 1, 'same'),
    () => kernel('Conv2DBackpropFilter', { x: x1, dy: dy1 }, { ...conv, filterShape: [3, 3, 1, 8] }),
    () => tf.conv2d(x2, w2, 1, 'same'),
    () => kernel('Conv2DBackpropInput', { dy: dy2, filter: w2 }, { ...conv, inputShape: [BATCH, 14, 14, 8] }),
    () => kernel('Conv2DBackpropFilter', { x: x2, dy: dy2 }, { ...conv, filterShape: [3, 3, 8, 16] }),
    () => pool(y1),
    () => pool(y2),
    () => tf.matMul(d1, k1),
  ];
  return { ops: OPS.map((o, i) => ({ ...o, run: runs[i] })), dispose: () => tf.dispose([x1, w1, x2, w2, y1, y2, dy1, dy2, d1, k1]) };
}

function timeOp(op: Op, reps: number): number {
  const once = () => {
    const r = op.run();
    for (const t of Array.isArray(r) ? r : [r]) {
      t.dataSync();
      t.dispose();
    }
  };
  once(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = now();
    once();
    times.push(now() - t);
  }
  return median(times);
}

export const cnnKernels: Suite = {
  name: 'cnn-kernels',
  summary: "per-kernel cost of cnn-small's layers on cpu and wasm (batch 10): where CNN training time goes in Node",
  async run(opts) {
    const reps = opts.reps ?? (opts.quick ? 2 : 5);
    await useNodeBackend('auto', 'cnn-small'); // registers the wasm backend and its paths
    const results = new Map<string, Map<string, string>>();
    for (const backend of ['cpu', 'wasm'] as const) {
      await useFirstBackend([backend]);
      log(`cnn-kernels on ${tf.getBackend()}`);
      const { ops: list, dispose } = ops();
      for (const op of list) {
        const cell = tf.getKernel(op.kernel, backend) ? `${fmt.f(timeOp(op, reps), 1)} ms` : `no ${op.kernel} kernel`;
        if (!results.has(op.name)) results.set(op.name, new Map());
        results.get(op.name)!.set(backend, cell);
      }
      dispose();
    }
    return [
      '## cnn-kernels',
      '',
      `One call per kernel, batch ${BATCH}, median of ${reps} after a warm-up (ms of wall time). A cnn-small training step needs every row once (the filter gradient for both convolutions).`,
      '',
      table(
        ['op', 'kernel', 'cpu', 'wasm'],
        OPS.map((o) => [o.name, o.kernel, results.get(o.name)?.get('cpu') ?? '–', results.get(o.name)?.get('wasm') ?? '–']),
      ),
      '',
      `Measured at ${loadNote()}.`,
    ].join('\n');
  },
};
