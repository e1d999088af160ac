import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * The two child processes of the `signaling` bench suite (bench/signaling.ts), kept apart from
 * the measuring process so their CPU is not mixed into the honest clients' latencies:
 *
 *   server  the signaling server on 127.0.0.1 (its module from BENCH_SIGNALING_SERVER, default
 *           server/signaling.ts, so an older copy can be measured the same way; options as JSON
 *           from BENCH_SIGNALING_OPTIONS); answers 'cpu'
 *           with its process.cpuUsage() and 'stats' with its stats().
 *   abuser  two raw sockets from 127.0.0.100 in a room of their own; on {mode} it sends, at the
 *           server's per-socket message rate, valid 62 KB signals with 5,000 keys to its second
 *           socket ('signal'), or invalid metrics with 4,000 entries ('metrics'), or nothing
 *           ('off'). When the server closes a socket it reconnects and goes on, as an attacker
 *           would. Frames are built once and masked once, so the abuser costs little CPU itself.
 *
 * No tfjs here (bench/common.ts loads it), so the children start fast and stay small.
 */

type Msg = Record<string, unknown>;
const send = (m: Msg) => process.send?.(m);

async function server(): Promise<void> {
  const modulePath = path.resolve(process.env.BENCH_SIGNALING_SERVER ?? new URL('../server/signaling.ts', import.meta.url).pathname);
  const { createSignalingServer } = (await import(pathToFileURL(modulePath).href)) as typeof import('../server/signaling.ts');
  const http = createServer((_req, res) => {
    res.writeHead(404);
    res.end();
  });
  // BENCH_SIGNALING_OPTIONS: JSON options for the server, e.g. '{"bytesPerSecond":1e12,"byteBurst":1e12}' to measure without the byte budget.
  const options = JSON.parse(process.env.BENCH_SIGNALING_OPTIONS ?? '{}') as Parameters<typeof createSignalingServer>[0];
  const signaling = createSignalingServer({ ...options, server: http });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', 1024, resolve));
  process.on('message', (m: Msg) => {
    if (m.type === 'cpu') send({ type: 'cpu', usage: process.cpuUsage(), at: performance.now() });
    if (m.type === 'stats') send({ type: 'stats', stats: signaling.stats() });
  });
  send({ type: 'ready', port: (http.address() as AddressInfo).port });
}

/** Client → server frame (FIN, masked with a fixed key, as RFC 6455 requires of clients), built once and sent as is. */
function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const frame = Buffer.alloc(head + 4 + len);
  frame[0] = 0x80 | opcode;
  if (len < 126) frame[1] = 0x80 | len;
  else if (len < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(len), 2);
  }
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  key.copy(frame, head);
  for (let i = 0; i < len; i++) frame[head + 4 + i] = payload[i] ^ key[i & 3];
  return frame;
}
const textFrame = (text: string) => maskedFrame(0x1, Buffer.from(text, 'utf8'));

/**
 * A raw-socket WebSocket client: the handshake by hand, prebuilt masked frames, and server frames
 * parsed only as far as needed (small text frames as JSON, big ones skipped, pings answered). So
 * the abuser's own CPU stays small and does not slow the machine it shares with what is measured.
 */
function rawMember(port: number, room: string, events: { welcome(id: string): void; error(code: string): void; closed(): void }) {
  const state = { socket: null as net.Socket | null, joined: false };
  const connect = () => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.100' });
    state.socket = socket;
    state.joined = false;
    let upgraded = false;
    let buf: Buffer = Buffer.alloc(0);
    socket.on('connect', () =>
      socket.write(
        `GET /signal HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!buf.subarray(0, 12).toString('latin1').includes('101')) return socket.destroy();
        upgraded = true;
        buf = buf.subarray(end + 4);
        socket.write(textFrame(JSON.stringify({ type: 'join', room })));
      }
      for (;;) {
        if (buf.length < 2) return;
        const opcode = buf[0] & 0x0f;
        let len = buf[1] & 0x7f;
        let at = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          at = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          at = 10;
        }
        if (buf.length < at + len) return;
        const payload = buf.subarray(at, at + len);
        buf = buf.subarray(at + len);
        if (opcode === 0x9) socket.write(maskedFrame(0xa, Buffer.from(payload)));
        else if (opcode === 0x8) socket.end();
        else if (opcode === 0x1 && len < 4096) {
          const m = JSON.parse(payload.toString('utf8')) as { type: string; id?: string; code?: string };
          if (m.type === 'welcome') {
            state.joined = true;
            events.welcome(m.id!);
          } else if (m.type === 'error') events.error(m.code!);
        }
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      events.closed();
      if (!stopped) setTimeout(connect, 5);
    });
  };
  let stopped = false;
  connect();
  return {
    state,
    stop: () => {
      stopped = true;
      state.socket?.destroy();
    },
  };
}

async function abuser(url: string, rate: number): Promise<void> {
  const port = Number(new URL(url).port);
  let mode: 'off' | 'signal' | 'metrics' = 'off';
  let sent = 0;
  let reconnects = 0;
  const errors: Record<string, number> = {};
  const manyKeys = (n: number, value: unknown) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, value]));
  const bigMetrics = textFrame(JSON.stringify({ type: 'metrics', data: manyKeys(4000, null) }));
  let bigSignal: Buffer | null = null;
  const onError = (code: string) => (errors[code] = (errors[code] ?? 0) + 1);
  let first = true;
  // The accomplice receives the relayed signals; its id changes when it reconnects.
  const target = rawMember(port, 'abuse', {
    welcome: (id) => (bigSignal = textFrame(JSON.stringify({ type: 'signal', to: id, data: manyKeys(5000, 'v') }))),
    error: onError,
    closed: () => reconnects++,
  });
  const source = rawMember(port, 'abuse', { welcome: () => (first = false), error: onError, closed: () => reconnects++ });

  // Sends in 10 ms slices: `rate` messages per second, which is what the server's per-socket rate limit lets through.
  const perTick = Math.max(1, Math.round(rate / 100));
  setInterval(() => {
    const socket = source.state.socket;
    const frame = mode === 'signal' ? bigSignal : mode === 'metrics' ? bigMetrics : null;
    if (!frame || !socket || !source.state.joined || socket.destroyed || first) return;
    // Do not queue without bound in this process when the server reads slower than we send.
    if (socket.writableLength > 4 * frame.length) return;
    for (let i = 0; i < perTick; i++) {
      socket.write(frame);
      sent++;
    }
  }, 10);

  process.on('message', (m: Msg) => {
    if (m.type === 'mode') mode = m.mode as typeof mode;
    if (m.type === 'report') send({ type: 'report', sent, reconnects, errors });
    if (m.type === 'stop') {
      source.stop();
      target.stop();
      process.exit(0);
    }
  });
  send({ type: 'ready' });
}

// The bench process went away (finished or crashed): so do we.
process.on('disconnect', () => process.exit(0));

const role = process.argv[2];
if (role === 'server') void server();
else if (role === 'abuser') void abuser(process.argv[3], Number(process.argv[4]));
else {
  process.stderr.write('usage: signalingChild.ts server | abuser <ws-url> <messages-per-second>\n');
  process.exit(2);
}
