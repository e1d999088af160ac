/** IDX (LeCun's MNIST format): big-endian magic, then one u32 per dimension, then u8 data. */

export const IDX_IMAGES_MAGIC = 2051; // u8, 3 dims
export const IDX_LABELS_MAGIC = 2049; // u8, 1 dim

export interface IdxHeader {
  magic: number;
  dims: number[];
  /** Byte offset of the first data byte. */
  headerBytes: number;
}

export interface IdxImages {
  n: number;
  rows: number;
  cols: number;
  /** Raw bytes, row-major [n, rows, cols]; kept as u8 (4× smaller) until the model needs floats. */
  pixels: Uint8Array;
}

function bytesOf(buf: ArrayBuffer | Uint8Array): Uint8Array {
  return buf instanceof Uint8Array ? buf : new Uint8Array(buf);
}

export function parseIdxHeader(buf: ArrayBuffer | Uint8Array): IdxHeader {
  const b = bytesOf(buf);
  if (b.length < 4) throw new Error('IDX: truncated header');
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const magic = view.getUint32(0, false);
  if (b[0] !== 0 || b[1] !== 0 || b[2] !== 0x08) throw new Error(`IDX: unsupported magic ${magic} (only u8 data)`);
  const ndims = b[3];
  const headerBytes = 4 + 4 * ndims;
  if (b.length < headerBytes) throw new Error('IDX: truncated header');
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  return { magic, dims, headerBytes };
}

function body(buf: ArrayBuffer | Uint8Array, magic: number): { dims: number[]; data: Uint8Array } {
  const b = bytesOf(buf);
  const h = parseIdxHeader(b);
  if (h.magic !== magic) throw new Error(`IDX: magic ${h.magic}, expected ${magic}`);
  const size = h.dims.reduce((p, d) => p * d, 1);
  if (b.length < h.headerBytes + size) throw new Error(`IDX: ${b.length - h.headerBytes} data bytes, expected ${size}`);
  return { dims: h.dims, data: b.subarray(h.headerBytes, h.headerBytes + size) };
}

export function parseIdxImages(buf: ArrayBuffer | Uint8Array): IdxImages {
  const { dims, data } = body(buf, IDX_IMAGES_MAGIC);
  return { n: dims[0], rows: dims[1], cols: dims[2], pixels: data };
}

export function parseIdxLabels(buf: ArrayBuffer | Uint8Array): Uint8Array {
  return body(buf, IDX_LABELS_MAGIC).data;
}

/** u8 pixels → floats in [0, 1]. */
export function pixelsToFloat(pixels: Uint8Array, out = new Float32Array(pixels.length)): Float32Array {
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i] / 255;
  return out;
}
