import { describe, expect, it } from 'vitest';
import { ConfigError, configToHash, parseChurn, parseConfig, parseHash } from '../../src/core/config.ts';
import { parseFlags } from '../../src/sim/flags.ts';

describe('config', () => {
  it('round-trips through the URL hash exactly', () => {
    const c = parseConfig({ algo: 'fedavg', nodes: '12', batch: 'inf', partition: 'dirichlet:0.5', churn: '0.5@3,join:2@5' });
    expect(c.batch).toBe(0);
    expect(parseHash('#' + configToHash(c))).toEqual(c);
  });

  it('parses CLI flags and a --config hash the same way', () => {
    const fromFlags = parseFlags(['--algo', 'fedavg', '--nodes', '100', '--fraction=0.1', '--partition', 'shards:2']).config;
    const fromHash = parseFlags(['--config', 'http://x/#algo=fedavg&nodes=100&fraction=0.1&partition=shards:2']).config;
    expect(fromFlags).toEqual(fromHash);
    expect(fromFlags.nodes).toBe(100);
  });

  it('rejects bad values and unknown keys with clear messages', () => {
    expect(() => parseConfig({ nodes: 'many' })).toThrow(ConfigError);
    expect(() => parseConfig({ partition: 'dirichlet' })).toThrow(/partition/);
    expect(() => parseConfig({ bogus: 1 } as never)).toThrow(/unknown key/);
    expect(() => parseFlags(['--nodes'])).toThrow(/needs a value/);
    expect(() => parseFlags(['--frobnicate', '3'])).toThrow(/unknown flag/);
    expect(() => parseConfig({ churn: '2@x' })).toThrow(/churn/);
  });

  it('parses churn schedules', () => {
    expect(parseChurn('0.8@10,join:5@20,rejoin@30')).toEqual([
      { kind: 'fail', fraction: 0.8, round: 10 },
      { kind: 'join', count: 5, round: 20 },
      { kind: 'rejoin', round: 30 },
    ]);
  });
});
