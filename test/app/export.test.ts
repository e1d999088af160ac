import { describe, expect, it } from 'vitest';
import { configToHash, parseConfig, parseHash } from '../../src/core/config.ts';
import { exportBaseName, publicHash, rowsToCsv, runToJson, savedRunBaseName } from '../../src/app/lib/export.ts';

const config = parseConfig({ algo: 'fedavg', dataset: 'moons', partition: 'dirichlet:0.5', nodes: '6', seed: '1', room: 'r1', secret: 'hunter2' });
const rows = [
  { round: 1, accuracy: 0.5, loss: 0.9, bytesSent: 100, t: 10 },
  { round: 2, accuracy: 0.75, loss: 0.5, bytesSent: 200, t: 20 },
];

describe('export file names', () => {
  it('carry the config', () => {
    expect(exportBaseName(config)).toBe('fedavg-moons-dirichlet0.5-6tabs-seed1');
    expect(exportBaseName(config, { suffix: 'Tab 2' })).toBe('fedavg-moons-dirichlet0.5-6tabs-seed1-tab-2');
    expect(exportBaseName({ ...config, algo: 'gossip', merge: 'vca' }, { unit: 'nodes' })).toBe('gossip-vca-moons-dirichlet0.5-6nodes-seed1');
    expect(exportBaseName({ ...config, dataset: 'mnist', model: '2nn', partition: 'shards:2' }, { unit: 'nodes', variant: 'modest' })).toBe('modest-mnist-2nn-shards2-6nodes-seed1');
  });

  it('a saved run: from its hash; a sim run keeps its variant', () => {
    const hash = configToHash(config);
    expect(savedRunBaseName({ id: 4, kind: 'live', label: 'x', hash })).toBe('fedavg-moons-dirichlet0.5-6tabs-seed1');
    expect(savedRunBaseName({ id: 4, kind: 'sim', label: 'gossip-mean · moons', hash: configToHash({ ...config, algo: 'gossip', merge: 'mean' }) })).toBe('gossip-mean-moons-dirichlet0.5-6nodes-seed1');
    // A hash that no longer parses (an older schema) falls back to the label.
    expect(savedRunBaseName({ id: 4, kind: 'live', label: 'old run · blobs', hash: 'nodes=many' })).toBe('old-run-blobs-4');
  });
});

describe('CSV', () => {
  it('starts with the run and its config, without the room secret', () => {
    const csv = rowsToCsv(rows, { label: 'fedavg · moons', hash: configToHash(config) }).split('\n');
    expect(csv[0]).toBe('# run: fedavg · moons');
    expect(csv[1].startsWith('# config: ')).toBe(true);
    const back = parseHash(csv[1].slice('# config: '.length));
    expect(back).toEqual({ ...config, secret: '' });
    expect(csv[1]).not.toContain('hunter2');
    expect(csv[2]).toBe('round,accuracy,loss,bytesSent,t');
    expect(csv.slice(3).filter(Boolean)).toEqual(['1,0.5,0.9,100,10', '2,0.75,0.5,200,20']);
  });

  it('without metadata: the header first, as before', () => {
    expect(rowsToCsv(rows).split('\n')[0]).toBe('round,accuracy,loss,bytesSent,t');
  });

  it('JSON leaves the secret out too', () => {
    const json = JSON.parse(runToJson({ savedAt: 1, kind: 'live', label: 'l', algo: 'fedavg', hash: configToHash(config), rows }));
    expect(json.hash).not.toContain('hunter2');
    expect(publicHash('a=1')).toBe('a=1');
  });
});
