import { decodeMessage, encodeMessage, type SchemaRegistry } from '../core/wire/codec.ts';
import type { NodeId, Protocol, ProtocolAction, ProtocolEvent } from '../protocols/protocol.ts';
import type { Clock, Trainer, Transport } from './ports.ts';

export interface HostStats {
  bytesSent: number;
  bytesReceived: number;
  framesSent: number;
  framesReceived: number;
  /** Refused frames and messages, by reason. */
  rejected: Record<string, number>;
}

export interface HostObserver {
  /** Every action the protocol emits, after the host has carried out sends, timers and training. */
  onAction?(host: NodeHost, action: ProtocolAction): void;
  onReject?(host: NodeHost, from: NodeId, reason: string, detail: string): void;
}

/**
 * Runs one sans-I/O protocol against a clock, a transport and a trainer. Both drivers use
 * it, so framing, validation and rejection counting are the same live and simulated.
 */
export class NodeHost {
  readonly stats: HostStats = { bytesSent: 0, bytesReceived: 0, framesSent: 0, framesReceived: 0, rejected: {} };
  private alive = true;
  private readonly timers = new Set<string>();

  constructor(
    readonly id: NodeId,
    readonly protocol: Protocol,
    private readonly schemas: SchemaRegistry,
    private readonly paramCount: number,
    private readonly clock: Clock,
    private readonly transport: Transport,
    private readonly trainer: Trainer,
    private readonly observer: HostObserver = {},
  ) {
    transport.onFrame((from, frame) => this.receive(from, frame));
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

  /** Stops abruptly: pending timers, trainings and frames are ignored from now on. */
  kill(): void {
    this.alive = false;
    for (const id of this.timers) this.clock.clearTimer(id);
    this.timers.clear();
    this.transport.close();
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

  dispatch(event: ProtocolEvent): void {
    if (!this.alive) return;
    let actions: ProtocolAction[];
    try {
      actions = this.protocol.handle(event, this.clock.now());
    } catch (e) {
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
        const frame = encodeMessage(action.msg, this.schemas);
        this.stats.bytesSent += frame.byteLength;
        this.stats.framesSent++;
        this.transport.send(action.to, frame);
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
      case 'train':
        this.trainer.train(action.round, action.params, (o) => this.dispatch({ kind: 'trained', round: action.round, ...o }));
        break;
      case 'reject':
        this.reject(action.from, 'protocol', action.reason);
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
