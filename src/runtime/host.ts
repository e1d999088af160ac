import { decodeMessage, encodeMessage, schemaFor, type SchemaRegistry } from '../core/wire/codec.ts';
import type { KeyResult, NodeId, Protocol, ProtocolAction, ProtocolEvent } from '../protocols/protocol.ts';
import type { Clock, Compute, KeyAgreement, Transport } from './ports.ts';

/** What the host delivers to its protocol: an event, or the answer of the key-agreement port (Protocol.keysReady). */
type HostEvent = ProtocolEvent | { kind: 'keysReady'; id: string; result: KeyResult };

/** Frames a paused node keeps for when it resumes (timers and compute results are always kept). */
export const MAX_HELD_EVENTS = 1024;

export interface HostStats {
  bytesSent: number;
  bytesReceived: number;
  framesSent: number;
  framesReceived: number;
  /** Refused frames and messages, by reason. */
  rejected: Record<string, number>;
  /** Peer claims that were used but clipped to what the protocol can know, by claim. */
  clipped: Record<string, number>;
}

export interface HostObserver {
  /** Every action the protocol emits, after the host has carried out sends, timers and compute. */
  onAction?(host: NodeHost, action: ProtocolAction): void;
  onReject?(host: NodeHost, from: NodeId, reason: string, detail: string): void;
  /** The node failed (a compute request failed) and stopped; `host.error` says why. */
  onError?(host: NodeHost, message: string): void;
}

export interface NodeHostOptions {
  id: NodeId;
  protocol: Protocol;
  schemas: SchemaRegistry;
  /** The model's parameter count, for `length: 'model'` vectors. */
  paramCount: number;
  clock: Clock;
  transport: Transport;
  compute: Compute;
  /** Key agreement, for a protocol that asks for it (secure aggregation); a node without one fails when asked. */
  keys?: KeyAgreement;
  observer?: HostObserver;
  /**
   * Tests: fail loudly. A protocol exception, a message the codec cannot encode and a failed
   * compute request are thrown to the caller instead of being counted (protocol-error) or
   * stopping the node. Frames refused by the codec and `reject` actions are still counted.
   */
  strict?: boolean;
}

/**
 * Runs one sans-I/O protocol against a clock, a transport and a compute port. Both drivers
 * use it, so framing, validation, rejection counting and compute ids are the same live and
 * simulated.
 */
export class NodeHost {
  private paused = false;
  private readonly held: HostEvent[] = [];
  readonly stats: HostStats = { bytesSent: 0, bytesReceived: 0, framesSent: 0, framesReceived: 0, rejected: {}, clipped: {} };
  readonly id: NodeId;
  readonly protocol: Protocol;
  /** Why this node stopped with an error (a failed compute), or null. */
  error: string | null = null;
  private alive = true;
  private readonly timers = new Set<string>();
  private readonly schemas: SchemaRegistry;
  private readonly paramCount: number;
  private readonly clock: Clock;
  private readonly transport: Transport;
  private readonly compute: Compute;
  private readonly keys: KeyAgreement | null;
  private readonly observer: HostObserver;
  private readonly strict: boolean;

  constructor(o: NodeHostOptions) {
    this.id = o.id;
    this.protocol = o.protocol;
    this.schemas = o.schemas;
    this.paramCount = o.paramCount;
    this.clock = o.clock;
    this.transport = o.transport;
    this.compute = o.compute;
    this.keys = o.keys ?? null;
    this.observer = o.observer ?? {};
    this.strict = o.strict ?? false;
    this.transport.onFrame((from, frame) => this.receive(from, frame));
  }

  get running(): boolean {
    return this.alive;
  }

  start(): void {
    this.dispatch({ kind: 'start' });
  }

  roster(peers: NodeId[], coordinator?: NodeId): void {
    this.dispatch({ kind: 'roster', peers, coordinator });
  }

  /** Stops abruptly: pending timers, computations and frames are ignored from now on. */
  kill(): void {
    this.alive = false;
    for (const id of this.timers) this.clock.clearTimer(id);
    this.timers.clear();
    this.transport.close();
  }

  /**
   * Stops this node with an error instead of leaving it waiting for a result that will never
   * come: it leaves the swarm (as a crashed node does, which every protocol survives) and the
   * observer is told, so the tab shows the error and the simulator counts it.
   */
  fail(message: string): void {
    if (!this.alive) return;
    if (this.strict) throw new Error(`${this.id}: ${message}`);
    this.error = message;
    this.kill();
    this.observer.onAction?.(this, { kind: 'state', state: 'error' });
    this.observer.onError?.(this, message);
  }

  receive(from: NodeId, frame: Uint8Array): void {
    if (!this.alive) return;
    this.stats.bytesReceived += frame.byteLength;
    this.stats.framesReceived++;
    const decoded = decodeMessage(frame, this.schemas, this.paramCount);
    if (!decoded.ok) {
      this.reject(from, decoded.reason, decoded.detail);
      return;
    }
    this.dispatch({ kind: 'message', from, msg: decoded.msg });
  }

  /**
   * Holds every event (frames, timer firings, compute results) until `resume`, so the protocol
   * sees the pause as time standing still. The driver pauses its clock too (WallClock.pause), so
   * timers keep their remaining time instead of all firing at the resume.
   */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    for (const event of this.held.splice(0)) this.dispatch(event);
  }

  get isPaused(): boolean {
    return this.paused;
  }

  dispatch(event: HostEvent): void {
    if (!this.alive) return;
    if (this.paused) {
      // Peers are paused too, so little arrives; a peer that keeps sending is capped, and counted.
      if (this.held.length < MAX_HELD_EVENTS || event.kind !== 'message') this.held.push(event);
      else this.reject(event.from, 'held-while-paused', `more than ${MAX_HELD_EVENTS} frames while paused`);
      return;
    }
    let actions: ProtocolAction[];
    try {
      if (event.kind !== 'keysReady') actions = this.protocol.handle(event, this.clock.now());
      else if (this.protocol.keysReady) actions = this.protocol.keysReady(event.id, event.result, this.clock.now());
      else throw new Error('the protocol asked for keys it cannot take');
    } catch (e) {
      if (this.strict) throw e;
      // A protocol bug must not take the tab or the simulation down; it is reported and counted.
      this.reject(event.kind === 'message' ? event.from : this.id, 'protocol-error', (e as Error).message);
      return;
    }
    for (const action of actions) this.perform(action);
  }

  private perform(action: ProtocolAction): void {
    if (!this.alive) return;
    switch (action.kind) {
      case 'send': {
        let frame: Uint8Array;
        try {
          frame = encodeMessage(action.msg, this.schemas);
        } catch (e) {
          if (this.strict) throw e;
          this.reject(this.id, 'protocol-error', (e as Error).message);
          return;
        }
        this.stats.bytesSent += frame.byteLength;
        this.stats.framesSent++;
        this.transport.send(action.to, frame, schemaFor(this.schemas, action.msg.type)?.control ? 'control' : 'bulk');
        break;
      }
      case 'setTimer': {
        const key = action.id;
        this.timers.add(key);
        this.clock.setTimer(`${this.id}:${key}`, action.afterMs, () => {
          this.timers.delete(key);
          this.dispatch({ kind: 'timer', id: key });
        });
        break;
      }
      case 'clearTimer':
        this.timers.delete(action.id);
        this.clock.clearTimer(`${this.id}:${action.id}`);
        break;
      case 'compute': {
        const { id, request } = action;
        this.compute.run(
          request,
          (result) => this.dispatch({ kind: 'computed', id, result }),
          (message) => this.fail(`${request.kind} failed: ${message}`),
        );
        break;
      }
      case 'keys': {
        const { id, request } = action;
        if (!this.keys) {
          this.fail('this driver has no key-agreement port (secure aggregation needs one)');
          return;
        }
        this.keys.run(
          request,
          (result) => this.dispatch({ kind: 'keysReady', id, result }),
          (message) => this.fail(`key agreement failed: ${message}`),
        );
        break;
      }
      case 'reject':
        this.reject(action.from, action.claim ? `claim: ${action.claim}` : 'protocol', action.reason);
        break;
      case 'clipped':
        this.stats.clipped[action.claim] = (this.stats.clipped[action.claim] ?? 0) + 1;
        break;
      default:
        break;
    }
    this.observer.onAction?.(this, action);
  }

  private reject(from: NodeId, reason: string, detail: string): void {
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1;
    this.observer.onReject?.(this, from, reason, detail);
  }
}
