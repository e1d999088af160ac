import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { splitFrame } from '../../src/core/wire/chunks.ts';

/**
 * The transport's bookkeeping with simple-peer replaced by a fake: no RTCPeerConnection in Node,
 * and none is needed to check what happens to chunks, deadlines and evictions.
 */
class FakePeer {
  static all: FakePeer[] = [];
  readonly sent: Uint8Array[] = [];
  destroyed = false;
  private handlers = new Map<string, Array<(...args: unknown[]) => void>>();
  constructor(readonly opts: { initiator: boolean }) {
    FakePeer.all.push(this);
  }
  on(event: string, h: (...args: unknown[]) => void): this {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), h]);
    return this;
  }
  emit(event: string, ...args: unknown[]): void {
    for (const h of this.handlers.get(event) ?? []) h(...args);
  }
  signal(): void {}
  send(chunk: Uint8Array): void {
    this.sent.push(chunk);
  }
  destroy(): void {
    this.destroyed = true;
  }
}
vi.mock('simple-peer/simplepeer.min.js', () => ({ default: FakePeer }));

const { WebRtcTransport, DEFAULT_WEBRTC, MAX_FRAME_BYTES } = await import('../../src/live/transport/webrtcTransport.ts');

const relay = () => ({ sendSignal: () => {}, onSignal: (h: (from: string, data: unknown) => void) => void (incoming = h) });
let incoming: (from: string, data: unknown) => void = () => {};

/** An inbound link from `remote`, open. */
function accept(remote: string): FakePeer {
  incoming(remote, { type: 'offer', sdp: 'x' });
  const peer = FakePeer.all.at(-1)!;
  peer.emit('connect');
  return peer;
}

beforeEach(() => {
  FakePeer.all = [];
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('WebRtcTransport under hostile chunks (hardening #3)', () => {
  it('caps the frame size a header may declare at 16 MiB (the cnn frame is ~6.7 MB)', () => {
    expect(DEFAULT_WEBRTC.maxFrameBytes).toBe(MAX_FRAME_BYTES);
    expect(MAX_FRAME_BYTES).toBe(16 * 1024 * 1024);
    expect(MAX_FRAME_BYTES).toBeGreaterThan(2 * 1_663_370 * 4 + 64 * 1024);
    const t = new WebRtcTransport('a', relay(), { ...DEFAULT_WEBRTC });
    const got: Uint8Array[] = [];
    t.onFrame((_f, frame) => got.push(frame));
    const b = accept('b');
    const lie = splitFrame(new Uint8Array(10), 1, 64)[0];
    new DataView(lie.buffer).setUint32(12, 64 * 1024 * 1024, true);
    new DataView(lie.buffer).setUint32(8, 2, true);
    b.emit('data', lie);
    expect(t.stats.rejected).toEqual({ 'too-big': 1 });
    // An honest frame right after is delivered.
    for (const c of splitFrame(new Uint8Array(1000).fill(7), 2, 256)) b.emit('data', c);
    expect(got.map((f) => f.length)).toEqual([1000]);
    t.close();
  });

  it('expires a half-sent message (counted), after which the same link delivers again', () => {
    const t = new WebRtcTransport('a', relay(), { ...DEFAULT_WEBRTC, partialTimeoutMs: 10_000 });
    const rejects: string[] = [];
    t.onReject = (_from, reason) => rejects.push(reason);
    const got: number[] = [];
    t.onFrame((_f, frame) => got.push(frame.length));
    const b = accept('b');
    // Four messages left half way fill the link's slots for unfinished messages.
    for (let id = 1; id <= 4; id++) b.emit('data', splitFrame(new Uint8Array(500), id, 256)[0]);
    b.emit('data', splitFrame(new Uint8Array(100), 5, 256)[0]);
    expect(got).toEqual([]);
    expect(t.stats.rejected).toEqual({ 'too-many-partial': 1 });
    // The sweep drops them once they are past the deadline, without any further chunk.
    vi.advanceTimersByTime(10_000);
    expect(t.stats.rejected).toEqual({ 'too-many-partial': 1, expired: 4 });
    b.emit('data', splitFrame(new Uint8Array(100), 6, 256)[0]);
    expect(got).toEqual([100]);
    expect(rejects.filter((r) => r === 'expired')).toHaveLength(4);
    t.close();
  });

  it('evicts an idle link whose unfinished message went stale, to make room under the cap', () => {
    const t = new WebRtcTransport('a', relay(), { ...DEFAULT_WEBRTC, maxConnections: 2, partialTimeoutMs: 10_000 });
    const b = accept('b');
    b.emit('data', splitFrame(new Uint8Array(500), 1, 256)[0]); // and never the rest
    vi.advanceTimersByTime(5000);
    const c = accept('c');
    c.emit('data', splitFrame(new Uint8Array(500), 1, 256)[0]); // the rest is on its way
    vi.advanceTimersByTime(1000);
    // Both links are mid-message: dialling d cannot close either.
    t.send('d', new Uint8Array(10));
    expect(t.stats.evicted).toBe(0);
    expect(b.destroyed).toBe(false);
    t.forget('d');
    // Past b's deadline (not c's), b's link is idle with only a stale message: it is the one evicted.
    vi.setSystemTime(Date.now() + 4_000);
    t.send('e', new Uint8Array(10));
    expect(t.stats.evicted).toBe(1);
    expect(b.destroyed).toBe(true);
    expect(t.stats.rejected).toEqual({ expired: 1 });
    expect(t.connectedPeers()).toEqual(['c']);
    t.close();
  });
});
