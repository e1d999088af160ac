import { fork, type ChildProcess } from 'node:child_process';
import { WebSocket } from 'ws';
import { DEFAULTS } from '../server/signaling.ts';
import { fmt, loadNote, log, now, table, type BenchOptions, type Suite } from './common.ts';

/**
 * Signaling server under load: 500 connected clients in 20 rooms (25 per room, each room from
 * its own loopback address, 127.0.0.1–20, as a classroom would be), every client sending an
 * ICE-candidate-sized `signal` to a random member of its room every 500 ms (1,000 relays/s in
 * all). Relay latency is what a receiver sees: arrival time minus the send time carried in the
 * message (same process, same clock).
 *
 * Windows of three kinds, interleaved (quiet, signal, metrics, quiet, metrics, signal, quiet) and
 * pooled by kind, so a drift in the machine's load shows up on every side: no abuser; one abuser
 * sending valid 62 KB `signal`s with 5,000 keys to an accomplice socket; one abuser sending
 * invalid `metrics` with 4,000 entries. The abuser writes at the server's per-socket message
 * rate (500/s) as long as its socket takes them (it stops writing while 4 messages wait in its
 * own buffer: the server reads an over-budget socket slowly) and reconnects whenever the server
 * closes it. Server and abuser are child processes (bench/signalingChild.ts), so neither one's
 * CPU lands in the measuring process. Reported per kind: relay p50/p99, abusive messages written
 * and rejected by the server per second, and the server's CPU. The target: p99 with an abuser within 2× of p99 without.
 *
 * BENCH_SIGNALING_SERVER=<path to a signaling.ts> measures another copy of the server the same way;
 * BENCH_SIGNALING_OPTIONS='<json>' passes options to it (e.g. a byte budget so large it never applies).
 */

const ROOMS = 20;
const PER_ROOM = 25;
const SEND_EVERY_MS = 500;

interface Client {
  ws: WebSocket;
  id: string;
  room: number;
}

type Reply = Record<string, unknown>;

function child(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ proc: ChildProcess; ready: Reply }> {
  const file = new URL('./signalingChild.ts', import.meta.url).pathname;
  const execArgv = process.execArgv.some((a) => a.includes('tsx')) ? process.execArgv : ['--import', 'tsx', ...process.execArgv];
  const proc = fork(file, args, { execArgv, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    proc.once('message', (m: Reply) => resolve({ proc, ready: m }));
    proc.once('exit', (code) => reject(new Error(`${args[0]} child exited with ${code}`)));
  });
}

function ask(proc: ChildProcess, type: string): Promise<Reply> {
  return new Promise((resolve) => {
    const on = (m: Reply) => {
      if (m.type !== type) return;
      proc.off('message', on);
      resolve(m);
    };
    proc.on('message', on);
    proc.send({ type });
  });
}

function open(url: string, room: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { localAddress: `127.0.0.${room + 1}` });
    ws.once('error', reject);
    ws.once('open', () => ws.send(JSON.stringify({ type: 'join', room: `room-${room}` })));
    const onMessage = (data: unknown) => {
      const m = JSON.parse(String(data)) as { type: string; id?: string; code?: string };
      if (m.type === 'welcome') {
        ws.off('message', onMessage);
        resolve({ ws, id: m.id!, room });
      } else if (m.type === 'error') reject(new Error(`join refused: ${m.code}`));
    };
    ws.on('message', onMessage);
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function run(opts: BenchOptions): Promise<string> {
  const windowMs = opts.quick ? 2000 : 5000;
  const settleMs = 1000;
  const server = await child(['server']);
  const url = `ws://127.0.0.1:${server.ready.port as number}/signal`;
  const variant = [process.env.BENCH_SIGNALING_SERVER, process.env.BENCH_SIGNALING_OPTIONS].filter(Boolean).join(' ');
  log(`signaling: server up at ${url}${variant ? ` (${variant})` : ''}; connecting ${ROOMS * PER_ROOM} clients`);

  const clients: Client[] = [];
  for (let r = 0; r < ROOMS; r++) clients.push(...(await Promise.all(Array.from({ length: PER_ROOM }, () => open(url, r)))));
  const byRoom = Array.from({ length: ROOMS }, (_, r) => clients.filter((c) => c.room === r).map((c) => c.id));

  let recording: number[] | null = null;
  let lost = 0;
  for (const c of clients) {
    c.ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { type: string; data?: { t?: number } };
      if (m.type === 'signal' && typeof m.data?.t === 'number') recording?.push(now() - m.data.t);
    });
    c.ws.on('close', () => lost++);
  }
  const candidate = 'candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 10.0.0.7 rport 46154 generation 0 ufrag sXq2 network-cost 999';
  const timers: ReturnType<typeof setTimeout>[] = [];
  for (const c of clients) {
    const peers = byRoom[c.room].filter((id) => id !== c.id);
    const tick = () => {
      if (c.ws.readyState !== WebSocket.OPEN) return;
      const to = peers[Math.floor(Math.random() * peers.length)];
      c.ws.send(JSON.stringify({ type: 'signal', to, data: { candidate: { candidate, sdpMid: '0', sdpMLineIndex: 0 }, t: now() } }));
    };
    timers.push(setTimeout(() => timers.push(setInterval(tick, SEND_EVERY_MS)), Math.random() * SEND_EVERY_MS));
  }

  const abuser = await child(['abuser', url, String(DEFAULTS.messagesPerSecond)]);
  // Honest traffic for a while before measuring: JIT warm-up and the joins' rosters are over.
  await new Promise((r) => setTimeout(r, opts.quick ? 1000 : 3000));
  const QUIET = 'no abuser';
  const names = { off: QUIET, signal: 'big-signal abuser', metrics: 'big-metrics abuser' } as const;
  // Interleaved, quiet first and last, so a drift in the machine's load lands on every side.
  const order: Array<keyof typeof names> = ['off', 'signal', 'metrics', 'off', 'metrics', 'signal', 'off'];
  const windows = order.map((mode) => ({ name: names[mode], mode }));
  interface Result {
    latencies: number[];
    cpuMs: number;
    wallMs: number;
    sent: number;
    reconnects: number;
    /** Messages the server rejected in the window (the abuser's, as honest ones are not rejected). */
    rejected: number;
  }
  const rejectedTotal = async () => {
    const m = (await ask(server.proc, 'stats')) as { stats: { rejected: Record<string, number> } };
    return Object.values(m.stats.rejected).reduce((a, b) => a + b, 0);
  };
  const results: Array<{ name: string; r: Result }> = [];
  for (const w of windows) {
    abuser.proc.send({ type: 'mode', mode: w.mode });
    await new Promise((r) => setTimeout(r, settleMs));
    const cpu0 = (await ask(server.proc, 'cpu')) as { usage: NodeJS.CpuUsage; at: number };
    const rep0 = (await ask(abuser.proc, 'report')) as { sent: number; reconnects: number };
    const rej0 = await rejectedTotal();
    const latencies: number[] = [];
    recording = latencies;
    const t0 = now();
    await new Promise((r) => setTimeout(r, windowMs));
    recording = null;
    const wallMs = now() - t0;
    const cpu1 = (await ask(server.proc, 'cpu')) as { usage: NodeJS.CpuUsage; at: number };
    const rep1 = (await ask(abuser.proc, 'report')) as { sent: number; reconnects: number };
    const rej1 = await rejectedTotal();
    const cpuMs = (cpu1.usage.user + cpu1.usage.system - cpu0.usage.user - cpu0.usage.system) / 1000;
    results.push({ name: w.name, r: { latencies, cpuMs, wallMs, sent: rep1.sent - rep0.sent, reconnects: rep1.reconnects - rep0.reconnects, rejected: rej1 - rej0 } });
    log(`signaling: ${w.name}: ${latencies.length} relays, server cpu ${fmt.f((100 * cpuMs) / wallMs, 0)}%`);
  }
  abuser.proc.send({ type: 'mode', mode: 'off' });
  const report = (await ask(abuser.proc, 'report')) as { errors: Record<string, number> };
  const stats = (await ask(server.proc, 'stats')) as { stats: { rejected: Record<string, number>; closed: Record<string, number>; throttled?: number } };

  const lostDuringRun = lost;
  for (const t of timers) clearTimeout(t);
  for (const c of clients) c.ws.terminate();
  abuser.proc.send({ type: 'stop' });
  server.proc.kill();

  const pooled = (name: string): Result => {
    const parts = results.filter((x) => x.name === name).map((x) => x.r);
    return {
      latencies: parts.flatMap((r) => r.latencies),
      cpuMs: parts.reduce((n, r) => n + r.cpuMs, 0),
      wallMs: parts.reduce((n, r) => n + r.wallMs, 0),
      sent: parts.reduce((n, r) => n + r.sent, 0),
      reconnects: parts.reduce((n, r) => n + r.reconnects, 0),
      rejected: parts.reduce((n, r) => n + r.rejected, 0),
    };
  };
  const base = pooled(QUIET);
  const rows = [{ name: QUIET, r: base }, ...[names.signal, names.metrics].map((name) => ({ name, r: pooled(name) }))];
  for (const x of rows) x.r.latencies.sort((a, b) => a - b);
  const baseP99 = percentile(base.latencies, 0.99);
  const body = rows.map(({ name, r }) => {
    const p99 = percentile(r.latencies, 0.99);
    return [
      name,
      fmt.int(r.latencies.length),
      fmt.f(percentile(r.latencies, 0.5), 2),
      fmt.f(p99, 2),
      fmt.f(p99 / baseP99, 2),
      r === base ? '–' : fmt.int((r.sent * 1000) / r.wallMs),
      r === base ? '–' : fmt.int((r.rejected * 1000) / r.wallMs),
      r === base ? '–' : fmt.int(r.reconnects),
      `${fmt.f((100 * r.cpuMs) / r.wallMs, 0)}%`,
      r === base ? '–' : p99 <= 2 * baseP99 ? 'yes' : 'no',
    ];
  });
  return [
    `### signaling: relay latency${variant ? ` (server: ${variant})` : ''} with ${ROOMS * PER_ROOM} clients in ${ROOMS} rooms (${fmt.int((ROOMS * PER_ROOM * 1000) / SEND_EVERY_MS)} relays/s offered), ${order.length} windows of ${fmt.sec(windowMs)} (${order.map((m) => m).join(', ')}), pooled by kind`,
    '',
    table(
      [
        'windows',
        'relays measured',
        'p50 ms',
        'p99 ms',
        'p99 / quiet p99',
        'abusive msgs/s written',
        'abusive msgs/s rejected',
        'abuser reconnects',
        'server CPU (of one core)',
        'within 2×',
      ],
      body,
    ),
    '',
    `Server rejections over the run: ${JSON.stringify(stats.stats.rejected)}; sockets it closed: ${JSON.stringify(stats.stats.closed)}; times it slowed a socket over its byte budget: ${stats.stats.throttled ?? '–'}. ` +
      `Abuser saw errors ${JSON.stringify(report.errors)}. Honest sockets lost: ${lostDuringRun}. ${loadNote()}.`,
  ].join('\n');
}

export const signaling: Suite = {
  name: 'signaling',
  summary: 'Signaling relay latency p50/p99, 500 clients in 20 rooms, with and without a big-signal or big-metrics abuser',
  run,
};
