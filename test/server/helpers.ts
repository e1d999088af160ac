import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { ServerMessageSchema, type ServerMessage } from '../../src/core/signaling/messages.ts';
import { createSignalingServer, type SignalingOptions, type SignalingServer } from '../../server/signaling.ts';

type Of<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

/** A real `ws` client that queues what it receives so tests can await specific message types. */
export class TestClient {
  readonly inbox: ServerMessage[] = [];
  /** Every frame received, as sent on the wire (never trimmed), for tests that scan for leaks. */
  readonly raw: string[] = [];
  /** Server messages that do not match the server's own published schema (should stay empty). */
  readonly invalid: unknown[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<{ types: string[]; resolve: (m: ServerMessage) => void }> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.raw.push(String(data));
      const value: unknown = JSON.parse(String(data));
      const res = ServerMessageSchema.safeParse(value);
      if (!res.success) this.invalid.push(value);
      this.inbox.push(value as ServerMessage);
      this.flush();
    });
    ws.on('error', () => {}); // surfaces as 'close' with a code
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** `localAddress` (e.g. 127.0.0.2: all of 127/8 is loopback on Linux) makes the client a different host to the server. */
  static open(url: string, localAddress?: string): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, localAddress ? { localAddress } : {});
      const client = new TestClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }

  /** The close code and reason, failing (instead of hanging) if the server keeps the socket open. */
  waitClosed(timeoutMs = 2000): Promise<{ code: number; reason: string }> {
    return Promise.race([
      this.closed,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs)),
    ]);
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** The first queued or future message of one of `types` (removed from the inbox). */
  next<T extends ServerMessage['type']>(types: T | T[], timeoutMs = 2000): Promise<Of<T>> {
    const list: string[] = Array.isArray(types) ? types : [types];
    const i = this.inbox.findIndex((m) => list.includes(m.type));
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0] as Of<T>);
    return new Promise((resolve, reject) => {
      const waiter = { types: list, resolve: resolve as (m: ServerMessage) => void };
      this.waiters.push(waiter);
      setTimeout(() => {
        const k = this.waiters.indexOf(waiter);
        if (k < 0) return;
        this.waiters.splice(k, 1);
        reject(new Error(`timed out waiting for ${list.join('|')}; inbox: ${JSON.stringify(this.inbox).slice(0, 500)}`));
      }, timeoutMs);
    });
  }

  /** Remove and return every queued message of `type`. */
  take<T extends ServerMessage['type']>(type: T): Array<Of<T>> {
    const out = this.inbox.filter((m) => m.type === type) as Array<Of<T>>;
    for (const m of out) this.inbox.splice(this.inbox.indexOf(m), 1);
    return out;
  }

  /**
   * Round trip a ping. The server writes to a socket in order, so once the pong is here, every
   * message the server sent to this client before handling the ping has arrived too.
   */
  async sync(): Promise<void> {
    this.send({ type: 'ping' });
    await this.next('pong');
  }

  async join(room: string, extra: Record<string, unknown> = {}): Promise<Of<'welcome'>> {
    this.send({ type: 'join', room, ...extra });
    const m = await this.next(['welcome', 'error']);
    if (m.type === 'error') throw new Error(`join failed: ${m.code} ${m.message}`);
    return m as Of<'welcome'>;
  }

  private flush(): void {
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i];
      const j = this.inbox.findIndex((m) => w.types.includes(m.type));
      if (j < 0) {
        i++;
        continue;
      }
      this.waiters.splice(i, 1);
      w.resolve(this.inbox.splice(j, 1)[0]);
    }
  }
}

/** One signaling server on 127.0.0.1 (ephemeral port) plus the clients a test opens; `stop()` closes everything. */
export class Harness {
  readonly clients: TestClient[] = [];
  private constructor(
    readonly http: Server,
    readonly signaling: SignalingServer,
    readonly url: string,
  ) {}

  static async start(options: SignalingOptions = {}): Promise<Harness> {
    const http = createServer((_req, res) => {
      res.writeHead(404);
      res.end();
    });
    const signaling = createSignalingServer({ ...options, server: http });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    return new Harness(http, signaling, `ws://127.0.0.1:${port}/signal`);
  }

  async client(localAddress?: string): Promise<TestClient> {
    const c = await TestClient.open(this.url, localAddress);
    this.clients.push(c);
    return c;
  }

  async joined(room: string, extra: Record<string, unknown> = {}, localAddress?: string): Promise<{ c: TestClient; id: string; welcome: Of<'welcome'> }> {
    const c = await this.client(localAddress);
    const welcome = await c.join(room, extra);
    return { c, id: welcome.id, welcome };
  }

  invalidMessages(): unknown[] {
    return this.clients.flatMap((c) => c.invalid);
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.ws.terminate();
    await this.signaling.close();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

export async function until(cond: () => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
