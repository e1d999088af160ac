import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { z } from 'zod';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_KEYS, configToShortHash, keyTypes, parseConfig, parseHash, type Config, type ConfigInput } from '../../src/core/config.ts';
import { MODEL_PARAMS, round } from '../../src/core/wire/codec.ts';
import { roomTraining, trainId } from '../../src/protocols/compute.ts';
import { allProtocols, protocolFor, registerProtocol } from '../../src/protocols/index.ts';
import type { Protocol, ProtocolAction, ProtocolContext, ProtocolEvent, ProtocolModule } from '../../src/protocols/protocol.ts';
import { SetupPanel } from '../../src/app/components/SetupPanel.tsx';
import { blobsWorld, type BlobsWorld } from '../support/blobs.ts';

/**
 * A fourth algorithm that exists only in this test: every node trains, hands its model to the
 * next node of the sorted roster, and mixes in what it was handed. Registering it must be all
 * it takes for the config, the simulator and the setup panel to know it.
 */
class Relay implements Protocol {
  round = 0;
  private params: Float32Array;
  private handed: Float32Array | null = null;
  private peers: string[];
  constructor(private readonly ctx: ProtocolContext) {
    this.params = ctx.initialParams;
    this.peers = [...ctx.peers];
  }
  currentParams(): Float32Array {
    return this.params;
  }
  private train(r: number): ProtocolAction {
    return { kind: 'compute', id: trainId(r), round: r, request: roomTraining(this.ctx.config, this.params) };
  }
  handle(e: ProtocolEvent): ProtocolAction[] {
    const mix = (this.ctx.config as Config & { relayMix: number }).relayMix;
    switch (e.kind) {
      case 'start':
        return [this.train(1)];
      case 'roster':
        this.peers = e.peers.filter((p) => p !== this.ctx.id);
        return [];
      case 'message':
        this.handed = e.msg.params as Float32Array;
        return [];
      case 'computed': {
        if (e.result.kind !== 'train') return [];
        const r = Number(e.id.slice('train:'.length));
        this.params = e.result.params;
        if (this.handed) this.params = this.params.map((v, i) => (1 - mix) * v + mix * this.handed![i]);
        this.round = r;
        const ring = [...this.peers, this.ctx.id].sort();
        const next = ring[(ring.indexOf(this.ctx.id) + 1) % ring.length];
        const out: ProtocolAction[] = next === this.ctx.id ? [] : [{ kind: 'send', to: next, msg: { type: 'relay/model', round: r, params: this.params } }];
        out.push({ kind: 'round', round: r });
        if (r >= this.ctx.config.rounds) return [...out, { kind: 'state', state: 'done' }, { kind: 'done' }];
        return [...out, this.train(r + 1)];
      }
      default:
        return [];
    }
  }
}

const relay: ProtocolModule = {
  name: 'relay',
  config: { relayMix: { schema: keyTypes.real(0, 1).default(0.5), label: 'Relay mix', help: 'How much of the handed model to take.' } },
  schemas: { 'relay/model': { header: z.object({ round }), vectors: MODEL_PARAMS } },
  evaluates: 'nodes',
  init: 'shared',
  coordinator: false,
  linkBudget: () => 2,
  roundBudgetMs: () => 1000,
  ui: { label: 'Relay', explain: 'Each node hands its model to the next one around a ring.', paper: 'none (a test module)', topologyCaption: 'Arrows: hand-overs.' },
  create: (ctx) => new Relay(ctx),
};

let world: BlobsWorld;
beforeAll(async () => {
  (globalThis as { location?: unknown }).location = { pathname: '/', hostname: 'example.org', origin: 'http://example.org', hash: '' };
  world = await blobsWorld(600);
});

describe('a protocol module registered from a test', () => {
  it('is unknown before it registers', () => {
    expect(() => parseConfig({ algo: 'relay' })).toThrow(/algo/);
    expect(CONFIG_KEYS).not.toContain('relayMix');
  });

  it('adds its name and its keys to the URL and CLI schema', () => {
    registerProtocol(relay);
    expect(allProtocols().map((m) => m.name)).toContain('relay');
    expect(protocolFor('relay')).toBe(relay);
    const c = parseConfig({ algo: 'relay', relayMix: '0.25' } as ConfigInput);
    expect((c as Config & { relayMix: number }).relayMix).toBe(0.25);
    expect((parseConfig({ algo: 'relay' }) as Config & { relayMix: number }).relayMix).toBe(0.5);
    expect(() => parseConfig({ algo: 'relay', relayMix: '2' } as ConfigInput)).toThrow(/Relay mix|relayMix/);
    // A short link carries the new key and reads back exactly.
    const short = configToShortHash(c);
    expect(short).toContain('relayMix=0.25');
    expect(parseHash(short)).toEqual(c);
  });

  it('runs in the simulator with no other edit', () => {
    registerProtocol(relay);
    const sim = world.simulation({ algo: 'relay', nodes: 4, rounds: 5, relayMix: 0.5 } as ConfigInput);
    const summary = sim.run();
    expect(summary.stopReason).toBe('rounds');
    expect(sim.rows.map((r) => r.round)).toEqual([1, 2, 3, 4, 5]);
    expect(sim.rows.at(-1)!.accuracy).toBeGreaterThan(0.8);
    expect(summary.rejected).toEqual({});
  });

  it('shows in the setup panel: in the algorithm list, with its own field and help', () => {
    registerProtocol(relay);
    const config = parseConfig({ algo: 'relay' });
    const html = renderToStaticMarkup(createElement(SetupPanel, { mode: 'live', config, shareLink: 'http://example.org/#x', onApply: () => undefined }));
    expect(html).toMatch(/<option[^>]*>relay<\/option>/);
    expect(html).toContain('name="relayMix"');
    expect(html).toContain('Relay mix');
    // Another algorithm's keys stay hidden.
    expect(html).not.toContain('name="fraction"');
  });
});
