import { describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, describeErrors, errorSentence, hashToInput, parseConfig, parseConfigByKey, validPartition, validTopology } from '../../src/core/config.ts';
import { parseFlags } from '../../src/sim/flags.ts';

describe('parseConfigByKey', () => {
  it('keeps the good values, the room included, and defaults only the bad keys', () => {
    const { config, errors } = parseConfigByKey(hashToInput('#room=class-7&algo=gossip&nodes=abc&lr=0.05&partition=dirichlet:0&dataset=moons'));
    expect(config).toEqual({ ...parseConfig({ dataset: 'moons' }), room: 'class-7', algo: 'gossip', lr: 0.05 });
    expect(Object.keys(errors).sort()).toEqual(['nodes', 'partition']);
    expect(errors.nodes).toBe('must be a whole number from 1 to 100,000');
  });

  it('reports nothing for a good input, and unknown keys by name', () => {
    expect(parseConfigByKey({ room: 'r', nodes: '3' }).errors).toEqual({});
    const { config, errors } = parseConfigByKey({ room: 'r', bogus: '1' });
    expect(config.room).toBe('r');
    expect(errors).toEqual({ bogus: 'is not a known setting' });
  });

  it('rejects an empty number instead of reading it as 0', () => {
    expect(parseConfigByKey({ steps: '' }).errors.steps).toMatch(/whole number/);
    expect(parseConfigByKey({ lr: ' ' }).errors.lr).toMatch(/number/);
    expect(parseConfigByKey({ batch: '' }).errors.batch).toMatch(/whole number/);
  });

  it('speaks plainly, for the form and for the CLI', () => {
    const { errors } = parseConfigByKey({ nodes: '0', lr: 'fast', algo: 'sgd', autostart: 'yes', room: 'my room', batch: '-1' });
    expect(errorSentence('nodes', errors.nodes!)).toBe('Nodes must be a whole number from 1 to 100,000');
    expect(errorSentence('lr', errors.lr!)).toBe('Learning rate must be a number from 0.000001 to 10');
    // The list grows as algorithms register (src/protocols/index.ts): the first four, then the rest.
    expect(errorSentence('algo', errors.algo!)).toMatch(/^Algorithm must be one of fedavg, modest, gossip, dpsgd(, [\w-]+)*$/);
    expect(errorSentence('autostart', errors.autostart!)).toBe('Autostart must be 0 or 1');
    expect(errorSentence('room', errors.room!)).toMatch(/^Room must be 1 to 64 letters, digits, - or _/);
    expect(errorSentence('batch', errors.batch!)).toMatch(/^Batch size must be a whole number from 1 to 100,000, or inf/);
    for (const problem of Object.values(errors)) expect(problem).not.toMatch(/Too small|expected|Invalid/);
    expect(describeErrors({ nodes: errors.nodes }, { nodes: '0' })).toEqual(['nodes must be a whole number from 1 to 100,000 (got "0")']);
    expect(() => parseFlags(['--nodes', '0'])).toThrow('nodes must be a whole number from 1 to 100,000 (got "0")');
  });

  it('parseConfig throws with the per-key errors attached', () => {
    try {
      parseConfig({ nodes: 'x', seed: -1 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect(Object.keys((e as ConfigError).errors)).toEqual(['nodes', 'seed']);
    }
  });
});

describe('partition and topology rules', () => {
  it('dirichlet needs alpha above 0; shards needs k of at least 1', () => {
    for (const bad of ['dirichlet:0', 'dirichlet:0.0', 'dirichlet:.0', 'dirichlet:00', 'shards:0', 'shards:00', 'dirichlet:', 'dirichlet:-1', 'shards:1.5', 'shards:', 'iid:1', 'dirichlet'])
      expect(validPartition(bad), bad).toBe(false);
    for (const good of ['iid', 'dirichlet:0.01', 'dirichlet:.5', 'dirichlet:1', 'dirichlet:100', 'shards:1', 'shards:2', 'shards:10']) expect(validPartition(good), good).toBe(true);
    expect(() => parseConfig({ partition: 'dirichlet:0' })).toThrow(/partition must be iid, dirichlet:<alpha> with alpha above 0/);
    expect(() => parseConfig({ partition: 'shards:0' })).toThrow(/partition/);
  });

  it('kregular needs k of at least 1', () => {
    expect(validTopology('kregular:0')).toBe(false);
    expect(validTopology('kregular:1')).toBe(true);
    expect(validTopology('ring')).toBe(true);
    expect(() => parseConfig({ topology: 'kregular:0' })).toThrow(/topology/);
  });
});
