import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * The filter gradient of a 2-D convolution (tfjs's `Conv2DBackpropFilter`) for the wasm
 * backend, which ships no such kernel: without it a CNN cannot train on wasm, and the
 * cpu backend's version is a naive loop that takes ~90% of a CNN training step.
 *
 * dW = im2col(x)ᵀ · dy. The im2col matrix is written transposed, one row per filter tap
 * (filter row, filter column, input channel) and one column per output pixel, straight
 * into the wasm heap; the product is the wasm backend's own BatchMatMul (XNNPACK), so
 * the heavy part runs in SIMD wasm like the forward convolution does.
 */

type Attrs = tf.Conv2DBackpropFilterAttrs;

/**
 * Fills `out` (length K·M, row-major [K, M]) with the transposed im2col matrix of the
 * NHWC input `x`: out[k·M + m] = x at tap k of output pixel m, 0 in the padding.
 */
export function im2colT(x: Float32Array, info: tf.backend_util.Conv2DInfo, out: Float32Array): void {
  const { batchSize, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  const { strideHeight: sH, strideWidth: sW, filterHeight: FH, filterWidth: FW } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const M = batchSize * OH * OW;
  for (let fh = 0; fh < FH; fh++) {
    for (let fw = 0; fw < FW; fw++) {
      // Output columns whose tap (fh, fw) lands inside the image: [owMin, owMax).
      const owMin = Math.min(OW, Math.max(0, Math.ceil((left - fw) / sW)));
      const owMax = Math.max(owMin, Math.min(OW, Math.floor((W - 1 + left - fw) / sW) + 1));
      for (let c = 0; c < C; c++) {
        let o = ((fh * FW + fw) * C + c) * M;
        for (let n = 0; n < batchSize; n++) {
          for (let oh = 0; oh < OH; oh++) {
            const xr = oh * sH + fh - top;
            if (xr < 0 || xr >= H) {
              out.fill(0, o, o + OW);
              o += OW;
              continue;
            }
            out.fill(0, o, o + owMin);
            let xi = ((n * H + xr) * W + owMin * sW + fw - left) * C + c;
            const step = sW * C;
            for (let ow = owMin; ow < owMax; ow++, xi += step) out[o + ow] = x[xi];
            out.fill(0, o + owMax, o + OW);
            o += OW;
          }
        }
      }
    }
  }
}

function conv2DBackpropFilterWasm(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as Attrs;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error(`Conv2DBackpropFilter (wasm): float32 only, got ${x.dtype}/${dy.dtype}`);
  if (tf.backend_util.convertConv2DDataFormat(dataFormat) !== 'channelsLast') throw new Error('Conv2DBackpropFilter (wasm): NHWC only');
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode);
  const M = info.batchSize * info.outHeight * info.outWidth;
  const K = info.filterHeight * info.filterWidth * info.inChannels;
  const cols = backend.makeOutput([K, M], 'float32');
  // Views only after the allocation: growing the heap detaches older views.
  im2colT(backend.typedArrayFromHeap(x) as Float32Array, info, backend.typedArrayFromHeap(cols) as Float32Array);
  const matMul = tf.getKernel(tf.BatchMatMul, 'wasm');
  if (!matMul) throw new Error('Conv2DBackpropFilter (wasm): the wasm backend has no BatchMatMul kernel');
  const dyMatrix: tf.TensorInfo = { dataId: dy.dataId, shape: [M, info.outChannels], dtype: 'float32' };
  const dW = matMul.kernelFunc({ inputs: { a: cols, b: dyMatrix }, backend, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
  backend.disposeData(cols.dataId);
  dW.shape = info.filterShape.slice();
  return dW;
}

export const conv2DBackpropFilterWasmConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilterWasm as unknown as tf.KernelFunc,
};

/** Registers the kernel once (tfjs warns on re-registration); safe to call repeatedly. */
export function registerWasmConvFilter(): void {
  if (!tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')) tf.registerKernel(conv2DBackpropFilterWasmConfig);
}
