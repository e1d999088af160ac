import { describe, expect, it } from 'vitest';
import { parseFlags } from '../../src/sim/flags.ts';
import { overriddenSettingFlags, pairedTimes, parseRunOutput, simFlags, splitArgs, torchFlags, type TorchSetting } from '../../bench/torch/runs.ts';

const S: TorchSetting = { model: 'cnn-small', nodes: 100, fraction: 0.1, epochs: 1, batch: 10, lr: 0.1, rounds: 4, evalSize: 10000, seed: 1 };

describe('torch suite helpers', () => {
  it('gives the simulator the setting (parsed by the real CLI parser) and torch the same values', () => {
    const { config, json } = parseFlags(simFlags(S));
    expect(json).toBe(true);
    expect(config).toMatchObject({ algo: 'fedavg', dataset: 'mnist', model: 'cnn-small', partition: 'iid', nodes: 100, fraction: 0.1, epochs: 1, batch: 10, lr: 0.1, rounds: 4, evalSize: 10000, evalEvery: 1, target: 0, seed: 1 });
    const t = torchFlags(S, '/d');
    const val = (flag: string) => t[t.indexOf(flag) + 1];
    expect([val('--data'), val('--model'), val('--nodes'), val('--fraction'), val('--epochs'), val('--batch'), val('--lr'), val('--rounds'), val('--eval-size'), val('--seed'), val('--threads')]).toEqual(['/d', 'cnn-small', '100', '0.1', '1', '10', '0.1', '4', '10000', '1', '1']);
  });

  it('appends extra simulator flags last, so they win, and names the setting flags they override', () => {
    const { config } = parseFlags(simFlags(S, ['--backend', 'cpu', '--rounds=2']));
    expect(config.backend).toBe('cpu');
    expect(config.rounds).toBe(2);
    expect(overriddenSettingFlags(['--backend', 'cpu', '--rounds=2', '--lr', '0.3'])).toEqual(['--rounds', '--lr']);
    expect(overriddenSettingFlags(['--backend', 'cpu'])).toEqual([]);
  });

  it('splits --sim-args like a shell: blanks separate, quotes group', () => {
    expect(splitArgs('  --backend cpu   --note "a b" --x=\'c d\' ')).toEqual(['--backend', 'cpu', '--note', 'a b', '--x=c d']);
    expect(splitArgs('')).toEqual([]);
  });

  it('reads round rows and the summary, and refuses output without a consistent summary', () => {
    const out = ['noise', '{"round":1,"accuracy":0.8,"loss":0.6}', '{"round":2,"accuracy":0.9,"loss":0.4}', '{"summary":true,"rounds":2,"accuracy":0.9,"loss":0.4,"wallMs":1234,"backend":"wasm"}', ''].join('\n');
    const r = parseRunOutput(out);
    expect(r).toMatchObject({ rounds: 2, accuracy: 0.9, loss: 0.4, wallMs: 1234, curve: [0.8, 0.9] });
    expect(r.summary.backend).toBe('wasm');
    expect(() => parseRunOutput('{"round":1,"accuracy":0.8,"loss":0.6}')).toThrow(/no summary/);
    expect(() => parseRunOutput('{"round":1,"accuracy":0.8,"loss":0.6}\n{"summary":true,"rounds":2,"accuracy":0.9,"loss":0.4}')).toThrow(/2 rounds but 1/);
  });

  it('reports torch/ours of the medians and the median of the per-pair ratios', () => {
    const p = pairedTimes([10, 20, 30], [20, 20, 90]);
    expect(p.oursMedian).toBe(20);
    expect(p.torchMedian).toBe(20);
    expect(p.ratio).toBe(1);
    expect(p.pairMedian).toBe(2);
    expect([p.pairMin, p.pairMax]).toEqual([1, 3]);
    expect(() => pairedTimes([1], [])).toThrow();
  });
});
