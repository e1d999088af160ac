import type { ComputeResult } from '../../core/learn/compute.ts';
import type { Message } from '../../core/wire/codec.ts';
import type { NodeId, ProtocolAction, ProtocolEvent } from '../protocol.ts';

/** How the coordinator changed on a roster, as this node sees it. */
export interface CoordinatorSwitch {
  /** This node led and no longer does: it stops serving. */
  stepsDown: boolean;
  /** This node leads now and did not: mid-run it takes over, from the last global model it saw. */
  stepsUp: boolean;
}

/** What a protocol does for each event (`start`'s bookkeeping is done before `onStart`; `stop` answers idle after `onStop`). */
export interface FollowerHandlers {
  onStart(): ProtocolAction[];
  onRoster(peers: NodeId[], coordinator?: NodeId): ProtocolAction[];
  onMessage(from: NodeId, msg: Message): ProtocolAction[];
  onComputed(id: string, result: ComputeResult): ProtocolAction[];
  onTimer(id: string): ProtocolAction[];
  onStop?(): void;
}

/**
 * A node of a protocol with a coordinator (FedAvg, FedBuff, FedAMD, DiLoCo, SPSA) following the room's
 * coordinator. The room, not the protocol, names the coordinator (the signaling server's roster,
 * or the first frame a coordinator sends a node that has no roster yet); a node that starts
 * without one leads itself. When the roster names another coordinator the node follows it at once:
 * if it led, it stops serving; if it now leads in the middle of a run, it takes over from the last
 * global model it saw (the old server's state is gone with it). Frames the former coordinators
 * sent before the switch may still arrive: they are late, not lies, so a protocol may ignore them
 * instead of counting a rejection (`screen`).
 *
 * It holds only that shared state and those rules; each protocol owns one by composition and keeps
 * its own server and client state, and decides what stepping down or up means for it.
 */
export class CoordinatorFollower {
  private coordinator: NodeId | null = null;
  /** Coordinators this node followed before the current one: their frames still in flight are late, not lies. */
  private readonly former = new Set<NodeId>();
  /** Between `start` (or the first frame taken from the coordinator) and `stop`. */
  running = false;

  /** `memberRole`: this node's role in state reports when it does not lead ('client', 'worker', 'node'). */
  constructor(
    private readonly self: NodeId,
    private readonly memberRole: string,
  ) {}

  /** The coordinator this node follows, or null before it knows one. */
  get current(): NodeId | null {
    return this.coordinator;
  }

  get leads(): boolean {
    return this.coordinator === this.self;
  }

  /** This node's role in state reports. */
  get role(): string {
    return this.leads ? 'coordinator' : this.memberRole;
  }

  /** A frame from `from` that only the coordinator may send: is it from another node than the one followed? (Anyone goes before a coordinator is known.) */
  foreign(from: NodeId): boolean {
    return this.coordinator !== null && from !== this.coordinator;
  }

  /** Checks a `what` from `from` that only the coordinator may send: a former coordinator's is logged and ignored, another node's rejected. Null: take it. */
  screen(from: NodeId, what: string): ProtocolAction | null {
    // Sent before the room elected another coordinator, arriving after: ignored, not a lie.
    if (this.former.has(from)) return { kind: 'log', text: `ignored a ${what} from ${from}, no longer the coordinator` };
    if (this.foreign(from)) return { kind: 'reject', from, reason: `${what} from a non-coordinator` };
    return null;
  }

  /** A frame from the coordinator was taken: a node with no roster yet follows its sender, and the run is on. */
  enrol(from: NodeId): void {
    this.coordinator ??= from;
    this.running = true;
  }

  /** `start`: a node that knows no coordinator leads itself. */
  begin(): void {
    this.coordinator ??= this.self;
  }

  /** A roster naming `coordinator`: follows it, and says how this node's part changed (null: no change). */
  follow(coordinator?: NodeId): CoordinatorSwitch | null {
    if (!coordinator || coordinator === this.coordinator) return null;
    const was = this.leads;
    if (this.coordinator) this.former.add(this.coordinator);
    this.former.delete(coordinator);
    this.coordinator = coordinator;
    return { stepsDown: was && !this.leads, stepsUp: this.leads && !was };
  }

  /** The event switch every follower has: `start` and `stop` keep `running`, the rest go to the protocol. */
  handle(event: ProtocolEvent, on: FollowerHandlers): ProtocolAction[] {
    switch (event.kind) {
      case 'start':
        this.running = true;
        this.begin();
        return on.onStart();
      case 'roster':
        return on.onRoster(event.peers, event.coordinator);
      case 'message':
        return on.onMessage(event.from, event.msg);
      case 'computed':
        return on.onComputed(event.id, event.result);
      case 'timer':
        return on.onTimer(event.id);
      case 'stop':
        this.running = false;
        on.onStop?.();
        return [{ kind: 'state', state: 'idle' }];
    }
  }
}
