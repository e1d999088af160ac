/**
 * Proof that a tab's own samples never leave it. `recordSent` runs in the page before the app
 * (addInitScript) and keeps a copy of everything the page hands to a data channel or a WebSocket:
 * every transport frame and every signaling message. `scanSent` then looks for the samples in
 * those copies, in the encodings a leak could take: their float32 bytes, those bytes in base64,
 * and their decimal forms as JSON would print them. Both functions run in the page, so they
 * take no closures.
 */

declare global {
  interface Window {
    __sent?: { binary: Uint8Array[]; text: string[] };
  }
}

export function recordSent(): void {
  const sent = { binary: [] as Uint8Array[], text: [] as string[] };
  window.__sent = sent;
  const keep = (data: unknown) => {
    if (typeof data === 'string') sent.text.push(data);
    else if (data instanceof ArrayBuffer) sent.binary.push(new Uint8Array(data.slice(0)));
    else if (ArrayBuffer.isView(data)) sent.binary.push(new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)));
    else if (data instanceof Blob) void data.arrayBuffer().then((b) => sent.binary.push(new Uint8Array(b)));
  };
  const dcSend = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (this: RTCDataChannel, data: never) {
    keep(data);
    return dcSend.call(this, data);
  } as typeof dcSend;
  const wsSend = WebSocket.prototype.send;
  WebSocket.prototype.send = function (this: WebSocket, data: never) {
    keep(data);
    return wsSend.call(this, data);
  } as typeof wsSend;
}

export interface ScanResult {
  binaryFrames: number;
  binaryBytes: number;
  textFrames: number;
  /** Needles looked for: float32 windows, and text forms. */
  binaryNeedles: number;
  textNeedles: string[];
  /** The frames holding a needle, with the first one found: "binary frame 12 @ 4096: sample 0 values 130..133", … (empty: no leak). */
  hits: string[];
}

/**
 * Looks for `rows` (each a sample's features) in everything recorded. A binary needle is a
 * window of `window` consecutive float32 values of one sample (its bytes as they sit in a
 * Float32Array), skipped when all its values are 0 or 1 (blank or fully inked pixels say
 * nothing about a digit); a text needle is one value's decimal form (as a double, as JSON prints
 * a Float32Array's values, and the shortest float32 form) when at least 8 characters long, or
 * a window's bytes in base64 at each of the 3 alignments.
 */
export function scanSent({ rows, window: w }: { rows: number[][]; window: number }): ScanResult {
  const sent = window.__sent;
  if (!sent) throw new Error('recordSent did not run in this page');
  const needles = new Map<number, { bytes: Uint8Array; label: string }[]>();
  const text = new Set<string>();
  const base64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
  let binaryNeedles = 0;
  rows.forEach((row, r) => {
    const f32 = Float32Array.from(row);
    for (let i = 0; i + w <= f32.length; i++) {
      const win = f32.subarray(i, i + w);
      if (win.every((v) => v === 0 || v === 1)) continue;
      const bytes = new Uint8Array(win.slice().buffer);
      const head = new DataView(bytes.buffer).getUint32(0, true);
      const list = needles.get(head) ?? [];
      list.push({ bytes, label: `sample ${r} values ${i}..${i + w - 1}` });
      needles.set(head, list);
      binaryNeedles++;
      for (let a = 0; a < 3; a++) {
        const whole = Math.floor((bytes.length - a) / 3) * 3;
        if (whole >= 6) text.add(base64(bytes.subarray(a, a + whole)));
      }
    }
    for (const v of f32) {
      const forms = [String(v)];
      for (let p = 1; p <= 9; p++) {
        const s = v.toPrecision(p);
        if (Math.fround(Number(s)) === v) {
          forms.push(String(Number(s)));
          break;
        }
      }
      for (const s of forms) if (s.length >= 8) text.add(s);
    }
  });
  const hits: string[] = [];
  let binaryBytes = 0;
  sent.binary.forEach((frame, f) => {
    binaryBytes += frame.length;
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    // The first match in each frame is enough to name it.
    scan: for (let o = 0; o + 4 <= frame.length; o++) {
      const list = needles.get(view.getUint32(o, true));
      if (!list) continue;
      for (const n of list) {
        if (o + n.bytes.length > frame.length) continue;
        let same = true;
        for (let k = 4; k < n.bytes.length && same; k++) same = frame[o + k] === n.bytes[k];
        if (same) {
          hits.push(`binary frame ${f} @ ${o}: ${n.label}`);
          break scan;
        }
      }
    }
  });
  const textNeedles = [...text];
  sent.text.forEach((frame, f) => {
    const n = textNeedles.find((t) => frame.includes(t));
    if (n) hits.push(`text frame ${f}: "${n}"`);
  });
  return { binaryFrames: sent.binary.length, binaryBytes, textFrames: sent.text.length, binaryNeedles, textNeedles, hits };
}
