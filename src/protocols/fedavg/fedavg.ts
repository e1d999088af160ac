import type { KeyResult, Protocol, ProtocolAction, ProtocolContext, ProtocolEvent, ProtocolReport, NodeId } from '../protocol.ts';
import type { ComputeResult } from '../../core/learn/compute.ts';
import type { Message } from '../../core/wire/codec.ts';
import { roomTraining, trainId } from '../compute.ts';
import { CoordinatorFollower, type FollowerHandlers } from '../common/follower.ts';
import { openUpdate, UpdateSealer } from '../common/privacy.ts';
import { SecAggClient, CLIENT_PHASES } from '../secagg/client.ts';
import { SecAggServer, type MaskedPrint } from '../secagg/server.ts';
import { MAX_SECAGG_CLIENTS } from '../secagg/messages.ts';
import { fedavgAggregate, type ClientUpdate } from './aggregate.ts';

/**
 * FedAvg (McMahan et al. 2017). One node of the room is the coordinator (the server);
 * every node, the coordinator included, is a client. Each round the coordinator samples
 * m = max(round(C·K), 1) of the K available clients, sends them w_t, and averages the
 * answers weighted by sample count. A round ends when every sampled client answered, or
 * at the timeout with at least `minClients` answers; otherwise it is re-sampled.
 *
 * With `secagg=1` the answers are masked (secure aggregation, src/protocols/secagg): the
 * coordinator runs a SecAggServer per round attempt and gets only the weighted mean change of
 * the clients that survived; every client, the coordinator's own included, runs a SecAggClient.
 * The coordinator's messages to itself are handled at once, without the network.
 */
export class FedAvg implements Protocol, FollowerHandlers {
  private readonly follower: CoordinatorFollower;
  private available = new Set<NodeId>();
  private global: Float32Array;
  private globalRound = 0;
  private finished = false;
  /** Coordinator: clients told `done` again after the end (once each). */
  private readonly redone = new Set<NodeId>();
  /** Coordinator: the round being collected. */
  private collecting: { round: number; attempt: number; selected: Set<NodeId>; updates: Map<NodeId, ClientUpdate> } | null = null;
  /** Client: the round being trained, for whom, and from which model. */
  private training: { round: number; from: NodeId; base: Float32Array } | null = null;
  /** Every update, the coordinator's own included, goes through the room's privacy mechanism (dp). */
  private readonly sealer: UpdateSealer;
  /** Secure aggregation (secagg=1): this node's client side, and the coordinator's server of the current attempt. */
  private readonly secure: SecAggClient | null;
  private server: SecAggServer | null = null;
  private readonly secureStats = { rounds: 0, aborted: 0, recovered: 0 };
  private readonly serverAudit: { seen: MaskedPrint[]; sums: { round: number; attempt: number; survivors: NodeId[]; dropped: NodeId[]; print: number }[] } = { seen: [], sums: [] };

  constructor(private readonly ctx: ProtocolContext) {
    this.global = ctx.initialParams;
    this.follower = new CoordinatorFollower(ctx.id, 'client');
    this.sealer = new UpdateSealer(ctx.config, ctx.rng);
    this.secure = ctx.config.secagg === 1 ? new SecAggClient({ id: ctx.id, config: ctx.config, samples: ctx.samples, maxSamples: ctx.maxSamples }) : null;
    for (const p of ctx.peers) this.available.add(p);
  }

  get round(): number {
    return this.globalRound;
  }

  currentParams(): Float32Array {
    return this.global;
  }

  handle(event: ProtocolEvent, _now: number): ProtocolAction[] {
    return this.settle(this.route(this.follower.handle(event, this)));
  }

  keysReady(id: string, result: KeyResult): ProtocolAction[] {
    const actions = id.startsWith('secagg:server:') ? (this.server?.keysReady(id, result) ?? []) : (this.secure?.keysReady(id, result) ?? []);
    return this.settle(this.route(actions));
  }

  onStart(): ProtocolAction[] {
    return this.follower.leads ? [{ kind: 'state', state: 'waiting', role: 'coordinator' }, ...this.startRound()] : [];
  }

  onRoster(peers: NodeId[], coordinator?: NodeId): ProtocolAction[] {
    this.available = new Set(peers.filter((p) => p !== this.ctx.id));
    const actions = this.forgetDeparted();
    const change = this.follower.follow(coordinator);
    if (change?.stepsUp && this.follower.running && !this.finished) {
      return [{ kind: 'log', text: `became coordinator at round ${this.globalRound}` }, { kind: 'state', state: 'waiting', role: 'coordinator' }, ...this.startRound()];
    }
    return actions;
  }

  /** Selected clients that left the room will not answer: stop waiting for them. */
  private forgetDeparted(): ProtocolAction[] {
    const c = this.collecting;
    if (!this.follower.leads || !c) return [];
    if (this.server) return this.server.departed((id) => id === this.ctx.id || this.available.has(id));
    for (const client of [...c.selected]) {
      if (client !== this.ctx.id && !this.available.has(client) && !c.updates.has(client)) c.selected.delete(client);
    }
    if (c.updates.size > 0 && c.updates.size === c.selected.size && c.updates.size >= this.ctx.config.minClients) return this.closeRound();
    return [];
  }

  private startRound(): ProtocolAction[] {
    if (this.globalRound >= this.ctx.config.rounds) return this.finish();
    const round = this.globalRound + 1;
    const attempt = this.collecting?.round === round ? this.collecting.attempt + 1 : 0;
    const clients = [this.ctx.id, ...[...this.available].sort()];
    let m = Math.max(Math.round(this.ctx.config.fraction * clients.length), 1);
    if (this.secure) m = Math.min(m, MAX_SECAGG_CLIENTS);
    const selected = new Set(this.ctx.rng.split(`round:${round}:${attempt}`).sample(clients, m));
    this.collecting = { round, attempt, selected, updates: new Map() };
    const actions: ProtocolAction[] = [];
    if (this.secure) {
      actions.push(...(this.server?.stop() ?? []));
      this.server = new SecAggServer({ id: this.ctx.id, config: this.ctx.config, maxSamples: this.ctx.maxSamples, paramCount: this.global.length }, { round, attempt }, selected);
      actions.push(...this.server.start());
    } else actions.push({ kind: 'setTimer', id: `round:${round}:${attempt}`, afterMs: this.ctx.config.roundTimeout });
    for (const client of [...selected].sort()) {
      if (client === this.ctx.id) actions.push(...this.beginTraining(round, this.ctx.id, this.global, attempt));
      else actions.push({ kind: 'send', to: client, msg: { type: 'fedavg/train', round, ...(this.secure ? { attempt } : {}), params: this.global } });
    }
    return actions;
  }

  private beginTraining(round: number, from: NodeId, params: Float32Array, attempt: number): ProtocolAction[] {
    this.training = { round, from, base: params };
    return [
      { kind: 'state', state: 'training', role: this.follower.role },
      { kind: 'compute', id: trainId(round), round, request: roomTraining(this.ctx.config, params) },
      ...(this.secure?.begin(round, attempt, from) ?? []),
    ];
  }

  onMessage(from: NodeId, msg: { type: string; [k: string]: unknown }): ProtocolAction[] {
    const round = msg.round as number;
    if (msg.type.startsWith('secagg/')) return this.onSecure(from, msg);
    switch (msg.type) {
      case 'fedavg/train': {
        if (this.follower.foreign(from)) return [{ kind: 'reject', from, reason: 'train request from a non-coordinator' }];
        if (round <= this.globalRound) return [{ kind: 'reject', from, reason: `stale train request for round ${round}` }];
        if (round > this.ctx.config.rounds) return [{ kind: 'reject', from, claim: 'round', reason: `train request for round ${round}, beyond the last round` }];
        this.follower.enrol(from);
        // The params are w_{round-1}: the room's latest global model.
        this.global = msg.params as Float32Array;
        this.globalRound = round - 1;
        return [{ kind: 'model', round: round - 1, params: this.global, scope: 'global' }, ...this.beginTraining(round, from, this.global, (msg.attempt as number | undefined) ?? 0)];
      }
      case 'fedavg/update': {
        if (this.secure) return [{ kind: 'reject', from, reason: 'a plain update in a room with secure aggregation' }];
        // n_k weighs the average, so it is a claim: no honest shard of this room is larger than the largest one.
        const samples = msg.samples as number;
        if (samples > this.ctx.maxSamples) return [{ kind: 'reject', from, claim: 'samples', reason: `update claims ${samples} samples; the room's largest shard has ${this.ctx.maxSamples}` }];
        // Under dp=rqm the update is the change from w_{round-1}, the global model this coordinator sent.
        const opened = openUpdate(this.ctx.config, { base: this.global, params: msg.params as Float32Array | undefined, levels: msg.levels as Uint8Array | undefined });
        if (!opened.ok) return [{ kind: 'reject', from, reason: opened.reason }];
        return this.collect(from, round, { params: opened.params, samples });
      }
      case 'fedavg/done':
        if (from !== this.follower.current) return [{ kind: 'reject', from, reason: 'done from a non-coordinator' }];
        if (round < this.globalRound || round > this.ctx.config.rounds) return [{ kind: 'reject', from, reason: `done for round ${round}, outside ${this.globalRound}..${this.ctx.config.rounds}` }];
        this.finished = true;
        this.global = msg.params as Float32Array;
        this.globalRound = round;
        return [{ kind: 'model', round, params: this.global, scope: 'global' }, { kind: 'round', round }, { kind: 'state', state: 'done' }, { kind: 'done' }];
      default:
        return [{ kind: 'reject', from, reason: `unexpected ${msg.type}` }];
    }
  }

  onComputed(id: string, result: ComputeResult): ProtocolAction[] {
    if (!this.training || id !== trainId(this.training.round) || result.kind !== 'train') return [];
    const { round, from, base } = this.training;
    const { loss } = result;
    const samples = this.ctx.samples;
    this.training = null;
    const idle: ProtocolAction = { kind: 'state', state: 'waiting', role: this.follower.role };
    if (this.secure) return [idle, ...this.secure.trained(round, base, result.params)];
    const sealed = this.sealer.seal(base, result.params);
    if (from === this.ctx.id) return [idle, ...this.collect(this.ctx.id, round, { params: sealed.params, samples })];
    return [idle, { kind: 'send', to: from, msg: { type: 'fedavg/update', round, samples, loss: this.sealer.publicLoss(loss), ...sealed.fields } }];
  }

  private collect(from: NodeId, round: number, update: ClientUpdate): ProtocolAction[] {
    if (this.finished && this.follower.leads && from !== this.ctx.id && !this.redone.has(from)) {
      // A client still training when the run ended (its link was down when `done` went out):
      // it would wait forever. Tell it once; a second update gets the plain refusal below.
      this.redone.add(from);
      return [{ kind: 'send', to: from, msg: { type: 'fedavg/done', round: this.globalRound, params: this.global } }];
    }
    const c = this.collecting;
    if (!this.follower.leads || !c) return [{ kind: 'reject', from, reason: 'update sent to a non-coordinator' }];
    if (round !== c.round) return [{ kind: 'reject', from, reason: `update for round ${round}, collecting ${c.round}` }];
    if (!c.selected.has(from)) return [{ kind: 'reject', from, reason: 'update from a client not selected this round' }];
    if (c.updates.has(from)) return [{ kind: 'reject', from, reason: 'duplicate update' }];
    c.updates.set(from, update);
    return c.updates.size === c.selected.size ? this.closeRound() : [];
  }

  onTimer(id: string): ProtocolAction[] {
    if (id.startsWith('secagg:')) return this.server?.onTimer(id) ?? [];
    const c = this.collecting;
    if (!c || id !== `round:${c.round}:${c.attempt}`) return [];
    if (c.updates.size >= this.ctx.config.minClients && c.updates.size > 0) return this.closeRound();
    return [{ kind: 'log', text: `round ${c.round}: ${c.updates.size} of ${c.selected.size} answered, below minClients; re-sampling` }, ...this.startRound()];
  }

  private closeRound(): ProtocolAction[] {
    const c = this.collecting!;
    // Aggregate in a fixed order so float sums do not depend on arrival order.
    const updates = [...c.updates.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, u]) => u);
    return this.closeWith(fedavgAggregate(updates, this.ctx.config.robust, this.global));
  }

  /** The round's new global model: publish it and start the next round. */
  private closeWith(global: Float32Array): ProtocolAction[] {
    const c = this.collecting!;
    this.global = global;
    this.globalRound = c.round;
    this.collecting = null;
    return [
      { kind: 'clearTimer', id: `round:${c.round}:${c.attempt}` },
      { kind: 'model', round: c.round, params: this.global, scope: 'global' },
      { kind: 'round', round: c.round },
      ...this.startRound(),
    ];
  }

  /** Secure aggregation's messages: the server's to the coordinator's attempt, the client's from the coordinator. */
  private onSecure(from: NodeId, msg: Message): ProtocolAction[] {
    if (!this.secure) return [{ kind: 'reject', from, reason: `${msg.type} in a room without secure aggregation` }];
    const m = msg as never;
    switch (msg.type) {
      case 'secagg/keys':
      case 'secagg/shares':
      case 'secagg/masked':
      case 'secagg/reveal': {
        const s = this.server;
        if (!this.follower.leads || !s) {
          // A round this coordinator has closed (or the run's end): late, not a lie.
          if (this.follower.leads && (msg.round as number) <= this.globalRound) return [];
          return [{ kind: 'reject', from, reason: `${msg.type} to a node that collects no secure round` }];
        }
        if (msg.type === 'secagg/keys') return s.onKeys(from, m);
        if (msg.type === 'secagg/shares') return s.onShares(from, m);
        if (msg.type === 'secagg/masked') return s.onMasked(from, m);
        return s.onReveal(from, m);
      }
      case 'secagg/roster':
      case 'secagg/deal':
      case 'secagg/unmask':
        if (from !== this.follower.current) return [{ kind: 'reject', from, claim: 'sender', reason: `${msg.type} from a non-coordinator` }];
        if (msg.type === 'secagg/roster') return this.secure.onRoster(from, m);
        if (msg.type === 'secagg/deal') return this.secure.onDeal(from, m);
        return this.secure.onUnmask(from, m);
      default:
        return [{ kind: 'reject', from, reason: `unexpected ${msg.type}` }];
    }
  }

  /** Sends to this node itself (the coordinator as a client of its own secure round) are handled here and now. */
  private route(actions: ProtocolAction[]): ProtocolAction[] {
    if (!this.secure) return actions;
    const out: ProtocolAction[] = [];
    for (const a of actions) {
      if (a.kind === 'send' && a.to === this.ctx.id) out.push(...this.route(this.onMessage(this.ctx.id, a.msg)));
      else out.push(a);
    }
    return out;
  }

  /** When the secure attempt is over: apply its sum and go on, or sample the round again. */
  private settle(actions: ProtocolAction[]): ProtocolAction[] {
    const s = this.server;
    const outcome = s?.outcome;
    if (!s || !outcome || !this.collecting) return actions;
    this.server = null;
    const { round, attempt } = s.attempt;
    this.serverAudit.seen.push(...s.seen);
    this.serverAudit.seen.splice(0, Math.max(0, this.serverAudit.seen.length - 256));
    if (outcome.kind === 'abort') {
      this.secureStats.aborted++;
      return this.settle([...actions, ...s.stop(), { kind: 'log', text: `secure aggregation, round ${round}: aborted (${outcome.reason}); re-sampling` }, ...this.route(this.startRound())]);
    }
    this.secureStats.rounds++;
    this.secureStats.recovered += outcome.dropped.length;
    this.serverAudit.sums.push({ round, attempt, survivors: outcome.survivors, dropped: outcome.dropped, print: outcome.print });
    this.serverAudit.sums.splice(0, Math.max(0, this.serverAudit.sums.length - 64));
    const next = new Float32Array(this.global.length);
    for (let i = 0; i < next.length; i++) next[i] = this.global[i] + outcome.change[i];
    const log: ProtocolAction[] = outcome.dropped.length ? [{ kind: 'log', text: `secure aggregation, round ${round}: unmasked the sum of ${outcome.survivors.length} clients, removing the masks of ${outcome.dropped.join(', ')} (dropped after sharing)` }] : [];
    return this.settle([...actions, ...log, ...this.route(this.closeWith(next))]);
  }

  /** Secure aggregation's facts: counts for the summary, fingerprints for the test hook (ProtocolReport.audit). */
  report(): ProtocolReport | null {
    if (!this.secure) return null;
    const phase = CLIENT_PHASES.indexOf(this.secure.phase);
    const values: Record<string, number> = this.follower.leads
      ? { secaggRounds: this.secureStats.rounds, secaggAborted: this.secureStats.aborted, secaggRecovered: this.secureStats.recovered, secaggClipped: this.secure.clipped }
      : { secaggPhase: phase, secaggClipped: this.secure.clipped };
    return {
      round: this.globalRound,
      values,
      audit: { phase: this.secure.phase, attempt: this.secure.current, plain: [...this.secure.plainPrints], ...(this.follower.leads ? { seen: [...this.serverAudit.seen, ...(this.server?.seen ?? [])], sums: [...this.serverAudit.sums] } : {}) },
    };
  }

  private finish(): ProtocolAction[] {
    if (this.finished) return [];
    this.finished = true;
    this.server = null;
    const notify: ProtocolAction[] = [...this.available].sort().map((to) => ({ kind: 'send', to, msg: { type: 'fedavg/done', round: this.globalRound, params: this.global } }) as const);
    return [...notify, { kind: 'state', state: 'done', role: 'coordinator' }, { kind: 'done' }];
  }
}

