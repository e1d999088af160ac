import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, configToHash, configToShortHash, configToStrings, defaultConfig, hashToInput, linkDefaults, LINK_VERSION, parseConfig, parseHash, type Config } from '../../src/core/config.ts';

/** mulberry32: a tiny seeded generator, so the "many configs" are the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Candidate values per key: defaults, edges and awkward strings (spaces, &, =, +, #, unicode). */
const CANDIDATES: Partial<Record<keyof Config, string[]>> = {
  room: ['lobby', 'class-7b', 'a', 'x'.repeat(64), 'Room_1'],
  algo: ['fedavg', 'modest', 'gossip', 'dpsgd'],
  dataset: ['blobs', 'moons', 'spirals', 'mnist'],
  model: ['mlp', '2nn', 'cnn', 'cnn-small'],
  partition: ['iid', 'dirichlet:0.1', 'dirichlet:.5', 'dirichlet:1', 'dirichlet:100', 'shards:1', 'shards:2'],
  nodes: ['1', '8', '100', '100000'],
  lr: ['0.1', '0.05', '0.000001', '10', '0.30000000000000004', '1e-3'],
  batch: ['inf', '0', '1', '10', '100000'],
  noise: ['0', '0.15', '0.123456789'],
  eps: ['1e-8', '0', '0.5'],
  topology: ['ring', 'full', 'exp', 'kregular:1', 'kregular:4'],
  churn: ['', '0.5@10', '0.5@10,join:4@20,rejoin@30', '.25@1'],
  backend: ['auto', 'webgpu', 'webgl', 'wasm', 'cpu'],
  autostart: ['0', '1', 'true', 'false'],
  secret: ['', 'hunter2', 'a b&c=d+e#f%g', 'ünïcødé ✓', '?x=1/2;3'],
  hide: ['', 'seed', 'lr,presets,seed'],
};

function randomConfig(next: () => number): Config {
  const base = configToStrings(defaultConfig());
  const input: Record<string, string> = {};
  for (const key of CONFIG_KEYS) {
    if (next() < 0.5) continue; // about half the keys keep their default
    const options = CANDIDATES[key];
    input[key] = options ? options[Math.floor(next() * options.length)] : base[key];
  }
  return parseConfig(input);
}

describe('short share links', () => {
  it('round-trip many configs exactly', () => {
    const next = rng(12);
    for (let i = 0; i < 500; i++) {
      const config = randomConfig(next);
      const short = configToShortHash(config);
      expect(parseHash(short), short).toEqual(config);
      expect(parseHash('#' + short)).toEqual(config);
      // …and through a full URL, as the browser hands it over.
      expect(parseHash(new URL(`http://192.168.1.5:5173/#${short}`).hash)).toEqual(config);
    }
  });

  it('hold only the version, the room and the non-default keys', () => {
    expect(configToShortHash(defaultConfig())).toBe(`v=${LINK_VERSION}&room=lobby`);
    const c = parseConfig({ room: 'class-7', algo: 'gossip', nodes: 6, partition: 'iid', lr: 0.2, backend: 'cpu' });
    expect(configToShortHash(c)).toBe(`v=${LINK_VERSION}&room=class-7&algo=gossip&partition=iid&nodes=6&backend=cpu`);
    const keys = [...new URLSearchParams(configToShortHash(c)).keys()];
    expect(keys).toEqual(['v', 'room', 'algo', 'partition', 'nodes', 'backend']);
  });

  it('are much shorter than the canonical hash, which stays available', () => {
    const c = parseConfig({ room: 'ui-share', algo: 'gossip', merge: 'mean', dataset: 'moons', nodes: 3, rounds: 7, seed: 42, lr: 0.05, batch: 'inf', partition: 'dirichlet:0.3', period: 700, hide: 'seed' });
    expect(configToHash(c).length).toBeGreaterThan(480);
    expect(configToShortHash(c).length).toBeLessThan(200);
    expect(parseHash(configToHash(c))).toEqual(c);
    expect(CONFIG_KEYS.every((k) => new URLSearchParams(configToHash(c)).has(k))).toBe(true);
  });

  it('keep their meaning: the keys a link leaves out take its version defaults, not the schema defaults', () => {
    // The frozen v1 table must equal today's defaults; when a default changes, add version 2 to
    // LINK_DEFAULTS in config.ts (never edit version 1) so old short links keep their meaning.
    // (Keys an algorithm registers later are not in the table: their links carry them unless at their default.)
    const current = configToStrings(defaultConfig()) as Record<string, string>;
    const table = linkDefaults(LINK_VERSION)!;
    expect(table, 'schema defaults changed: add a new LINK_DEFAULTS version').toEqual(Object.fromEntries(Object.keys(table).map((k) => [k, current[k]])));
    expect(hashToInput('v=1&room=r&nodes=3')).toEqual({ ...linkDefaults('1'), room: 'r', nodes: '3' });
    // A hash without v (old long links, the CLI's --config) is read as before.
    expect(hashToInput('room=r&nodes=3')).toEqual({ room: 'r', nodes: '3' });
  });

  it('report an unknown link version instead of guessing', () => {
    expect(() => parseHash('v=99&room=r')).toThrow(/link version/);
  });
});

describe('the default experiment', () => {
  it('is non-IID 2-class spirals on 4 tabs; blobs keep their own defaults', () => {
    expect(defaultConfig()).toMatchObject({ dataset: 'spirals', classes: 2, lr: 0.2, partition: 'dirichlet:0.5', nodes: 4 });
    expect(parseConfig({ dataset: 'blobs' })).toMatchObject({ dataset: 'blobs', classes: 3, lr: 0.1 });
    // An explicit value beats the dataset's default.
    expect(parseConfig({ dataset: 'spirals', classes: 3, lr: 0.05 })).toMatchObject({ classes: 3, lr: 0.05 });
  });

  it('old version-1 short links keep meaning blobs on 8 tabs', () => {
    expect(parseHash('v=1&room=r')).toMatchObject({ room: 'r', dataset: 'blobs', classes: 3, lr: 0.1, partition: 'iid', nodes: 8 });
  });
});
