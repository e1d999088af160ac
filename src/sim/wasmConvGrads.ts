import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * The two gradients of a 2-D convolution for the wasm backend, as im2col matrix products.
 * - `Conv2DBackpropFilter` (dW): wasm ships none, so a CNN could not train on wasm at all,
 *   and the cpu backend's is a naive loop that takes ~90% of a CNN training step.
 * - `Conv2DBackpropInput` (dX): wasm's own is a naive C++ loop, ~5× slower than the
 *   forward convolution of the same layer, and the largest cost once dW is fast.
 *
 * dW = im2col(x)ᵀ · dy and dX = col2im(dy · Wᵀ) (both im2col and Wᵀ are written out transposed,
 * so the product needs no transpose flag). The index shuffles run in JS straight on the
 * wasm heap; the products are the wasm backend's own BatchMatMul (XNNPACK, SIMD), as fast
 * as the forward convolution. NHWC, float32, dilation 1: what tfjs layers' conv2d uses.
 */

type ConvInfo = tf.backend_util.Conv2DInfo;
type Kernel = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap };

/** Output columns whose filter column `fw` lands inside the image: [lo, hi). */
function validCols(info: ConvInfo, fw: number): [number, number] {
  const { inWidth: W, outWidth: OW, strideWidth: sW } = info;
  const left = info.padInfo.left;
  const lo = Math.min(OW, Math.max(0, Math.ceil((left - fw) / sW)));
  return [lo, Math.max(lo, Math.min(OW, Math.floor((W - 1 + left - fw) / sW) + 1))];
}

/**
 * Fills `out` (row-major [K, M]) with the transposed im2col matrix of the NHWC input `x`:
 * one row per filter tap k = (filter row, filter column, input channel), one column per
 * output pixel m = (image, out row, out col); 0 where the tap falls in the padding.
 */
export function im2colT(x: Float32Array, info: ConvInfo, out: Float32Array): void {
  const { batchSize, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  const { strideHeight: sH, strideWidth: sW, filterHeight: FH, filterWidth: FW } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const M = batchSize * OH * OW;
  const step = sW * C;
  for (let fh = 0; fh < FH; fh++) {
    for (let fw = 0; fw < FW; fw++) {
      const [lo, hi] = validCols(info, fw);
      for (let c = 0; c < C; c++) {
        let o = ((fh * FW + fw) * C + c) * M;
        for (let n = 0; n < batchSize; n++) {
          for (let oh = 0; oh < OH; oh++, o += OW) {
            const xr = oh * sH + fh - top;
            if (xr < 0 || xr >= H) {
              out.fill(0, o, o + OW);
              continue;
            }
            out.fill(0, o, o + lo);
            let xi = ((n * H + xr) * W + lo * sW + fw - left) * C + c;
            for (let ow = lo; ow < hi; ow++, xi += step) out[o + ow] = x[xi];
            out.fill(0, o + hi, o + OW);
          }
        }
      }
    }
  }
}

/**
 * Adds every row of `cols` (row-major [M, K], the layout im2col would have untransposed)
 * back onto the NHWC image `dx` it was taken from (zero `dx` first): the adjoint of im2col.
 */
export function col2imAdd(cols: Float32Array, info: ConvInfo, dx: Float32Array): void {
  const { batchSize, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  const { strideHeight: sH, strideWidth: sW, filterHeight: FH, filterWidth: FW } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const K = FH * FW * C;
  let m = 0;
  for (let n = 0; n < batchSize; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++, m++) {
        for (let fh = 0; fh < FH; fh++) {
          const xr = oh * sH + fh - top;
          if (xr < 0 || xr >= H) continue;
          for (let fw = 0; fw < FW; fw++) {
            const xc = ow * sW + fw - left;
            if (xc < 0 || xc >= W) continue;
            const d = ((n * H + xr) * W + xc) * C;
            const s = m * K + (fh * FW + fw) * C;
            for (let c = 0; c < C; c++) dx[d + c] += cols[s + c];
          }
        }
      }
    }
  }
}

/** The convolution's geometry, with M output pixels (im2col rows) and K filter taps (columns). */
function geometry(xShape: number[], filterShape: number[], attrs: tf.Conv2DBackpropFilterAttrs | tf.Conv2DBackpropInputAttrs, dtypes: tf.DataType[]): { info: ConvInfo; M: number; K: number } {
  if (dtypes.some((d) => d !== 'float32')) throw new Error(`wasm convolution gradient: float32 only, got ${dtypes.join('/')}`);
  if (tf.backend_util.convertConv2DDataFormat(attrs.dataFormat) !== 'channelsLast') throw new Error('wasm convolution gradient: NHWC only');
  type Shape4 = [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(xShape as Shape4, filterShape as Shape4, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  return { info, M: info.batchSize * info.outHeight * info.outWidth, K: info.filterHeight * info.filterWidth * info.inChannels };
}

/** a · b on the wasm backend's own BatchMatMul kernel; `a` and `b` are read as 2-D. */
function matMul(backend: BackendWasm, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
  const kernel = tf.getKernel(tf.BatchMatMul, 'wasm');
  if (!kernel) throw new Error('the wasm backend has no BatchMatMul kernel');
  return kernel.kernelFunc({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
}

/** The same buffer seen as a matrix (no copy, no reference taken: BatchMatMul balances its own). */
const asMatrix = (t: tf.TensorInfo, rows: number, cols: number): tf.TensorInfo => ({ dataId: t.dataId, shape: [rows, cols], dtype: t.dtype });

function conv2DBackpropFilter({ inputs, backend: b, attrs }: Kernel): tf.TensorInfo {
  const backend = b as BackendWasm;
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const { info, M, K } = geometry(x.shape, a.filterShape, a, [x.dtype, dy.dtype]);
  const cols = backend.makeOutput([K, M], 'float32');
  // Views only after the allocation: growing the heap detaches older views.
  im2colT(backend.typedArrayFromHeap(x) as Float32Array, info, backend.typedArrayFromHeap(cols) as Float32Array);
  const dW = matMul(backend, cols, asMatrix(dy, M, info.outChannels));
  backend.disposeData(cols.dataId);
  dW.shape = info.filterShape.slice();
  return dW;
}

function conv2DBackpropInput({ inputs, backend: b, attrs }: Kernel): tf.TensorInfo {
  const backend = b as BackendWasm;
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const { info, M, K } = geometry(a.inputShape, filter.shape, a, [dy.dtype, filter.dtype]);
  const N = info.outChannels;
  // Wᵀ written out: the wasm BatchMatMul takes XNNPACK's fast path only without transposes.
  const filterT = backend.makeOutput([N, K], 'float32');
  const w = backend.typedArrayFromHeap(filter) as Float32Array;
  const wT = backend.typedArrayFromHeap(filterT) as Float32Array;
  for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) wT[j * K + k] = w[k * N + j];
  const cols = matMul(backend, asMatrix(dy, M, N), filterT);
  backend.disposeData(filterT.dataId);
  const dx = backend.makeOutput(a.inputShape.slice(), 'float32');
  const out = backend.typedArrayFromHeap(dx) as Float32Array;
  out.fill(0); // the heap is not zeroed
  col2imAdd(backend.typedArrayFromHeap(cols) as Float32Array, info, out);
  backend.disposeData(cols.dataId);
  return dx;
}

export const wasmConvGradKernels: tf.KernelConfig[] = [
  { kernelName: tf.Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc },
  { kernelName: tf.Conv2DBackpropInput, backendName: 'wasm', kernelFunc: conv2DBackpropInput as unknown as tf.KernelFunc },
];

const replaced = new Map<string, tf.KernelConfig>();

/**
 * Installs both kernels for the wasm backend, replacing its own Conv2DBackpropInput.
 * Idempotent; unregistering first keeps tfjs from warning about a re-registration.
 */
export function registerWasmConvGrads(): void {
  for (const config of wasmConvGradKernels) {
    const current = tf.getKernel(config.kernelName, 'wasm');
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current) {
      replaced.set(config.kernelName, current);
      tf.unregisterKernel(config.kernelName, 'wasm');
    }
    tf.registerKernel(config);
  }
}

/** The wasm backend's own kernel that `registerWasmConvGrads` replaced, for benchmarks and tests. */
export function replacedWasmKernel(kernelName: string): tf.KernelConfig | undefined {
  return replaced.get(kernelName);
}
