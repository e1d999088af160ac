import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * A BatchMatMul for the wasm backend that keeps XNNPACK on its fast path in training.
 *
 * wasm's own kernel takes XNNPACK's path only for a product without transpose flags (with a
 * flag it runs a plain loop, 4–45× slower), and XNNPACK packs the right operand afresh for
 * every new buffer. In training the weights are a new buffer every step, so a minibatch of 10
 * against the paper CNN's 3136×512 dense kernel spent ~15 ms packing 1.6 M weights for a
 * product of ~2 ms, and its two gradients, which carry flags, ~17 and ~21 ms.
 *
 * So, for C = op(A)·op(B) with M rows and N columns:
 * - a thin product (M < N, and a right operand big enough for packing to matter) is computed
 *   as Cᵀ = op(B)ᵀ·op(A)ᵀ, which puts the small matrix on the right, and Cᵀ, small, is
 *   transposed back. op(B)ᵀ is B itself when B came flagged;
 * - otherwise flagged operands are transposed (wasm's own Transpose kernel) before the product.
 * Batched (rank > 2 with a batch above 1) and non-float products go to wasm's own kernel.
 * Results equal the plain product up to float summation order.
 */

/** Below this many right-operand elements, packing is cheap and the plain product is kept. */
const PACKING_MATTERS = 1 << 16;

type Kernel = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap };

let own: tf.KernelConfig | undefined;

function ownKernel(name: string): tf.KernelFunc {
  const kernel = name === tf.BatchMatMul ? own : tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`the wasm backend has no ${name} kernel`);
  return kernel.kernelFunc;
}

const matrix = (t: tf.TensorInfo): tf.TensorInfo => ({ dataId: t.dataId, shape: t.shape.slice(-2), dtype: t.dtype });

function transposed(backend: BackendWasm, x: tf.TensorInfo): tf.TensorInfo {
  return ownKernel(tf.Transpose)({ inputs: { x: matrix(x) }, backend, attrs: { perm: [1, 0] } }) as tf.TensorInfo;
}

function plainProduct(backend: BackendWasm, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
  return ownKernel(tf.BatchMatMul)({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
}

/** The operand as stored if `flip` is false, else a fresh transposed copy (which `drop` frees). */
function oriented(backend: BackendWasm, x: tf.TensorInfo, flip: boolean, drop: tf.TensorInfo[]): tf.TensorInfo {
  if (!flip) return matrix(x);
  const t = transposed(backend, x);
  drop.push(t);
  return t;
}

function batchMatMul(args: Kernel): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
  const batch = (t: tf.TensorInfo) => t.shape.slice(0, -2).reduce((p, d) => p * d, 1);
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || batch(a) !== 1 || batch(b) !== 1 || a.shape.length < 2 || b.shape.length < 2) {
    return ownKernel(tf.BatchMatMul)(args) as tf.TensorInfo;
  }
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [M, K] = transposeA ? [ac, ar] : [ar, ac];
  const N = transposeB ? br : bc;
  const outShape = [...(a.shape.length > b.shape.length ? a.shape : b.shape).slice(0, -2), M, N];
  const drop: tf.TensorInfo[] = [];
  let out: tf.TensorInfo;
  if (M < N && K * N >= PACKING_MATTERS) {
    const cT = plainProduct(backend, oriented(backend, b, !transposeB, drop), oriented(backend, a, !transposeA, drop));
    out = transposed(backend, cT);
    drop.push(cT);
  } else if (transposeA || transposeB) {
    out = plainProduct(backend, oriented(backend, a, transposeA, drop), oriented(backend, b, transposeB, drop));
  } else {
    return ownKernel(tf.BatchMatMul)(args) as tf.TensorInfo;
  }
  for (const t of drop) backend.disposeData(t.dataId);
  out.shape = outShape;
  return out;
}

export const wasmMatMulKernel: tf.KernelConfig = { kernelName: tf.BatchMatMul, backendName: 'wasm', kernelFunc: batchMatMul as unknown as tf.KernelFunc };

/** Installs the kernel over wasm's own BatchMatMul, which it keeps and calls. Idempotent. */
export function registerWasmMatMul(): void {
  if (!own) {
    own = tf.getKernel(tf.BatchMatMul, 'wasm');
    if (!own) throw new Error('the wasm backend has no BatchMatMul kernel to wrap');
  }
  useOurWasmMatMul(true);
}

/** wasm's own BatchMatMul, for benchmarks and tests. */
export function ownWasmMatMul(): tf.KernelConfig | undefined {
  return own;
}

/** Benchmarks: `true` installs ours (after `registerWasmMatMul`), `false` puts wasm's own back. */
export function useOurWasmMatMul(ours: boolean): void {
  if (!own) throw new Error('registerWasmMatMul first');
  // The backend binds its C++ entry point through the kernel's setupFunc when it starts.
  const wanted = ours ? { ...wasmMatMulKernel, setupFunc: own.setupFunc } : own;
  if (tf.getKernel(tf.BatchMatMul, 'wasm')?.kernelFunc === wanted.kernelFunc) return;
  tf.unregisterKernel(tf.BatchMatMul, 'wasm');
  tf.registerKernel(wanted);
}
