import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config.ts';
import { makeSynthetic } from '../../src/core/data/synthetic.ts';
import type { Dataset } from '../../src/core/data/types.ts';
import { Learner } from '../../src/core/learn/learner.ts';
import { Rng } from '../../src/core/rng.ts';
import { InMemoryNetwork } from '../../src/sim/network.ts';
import { useNodeBackend } from '../../src/sim/nodeBackend.ts';
import { VirtualClock } from '../../src/sim/queue.ts';
import { Simulation } from '../../src/sim/simulation.ts';

describe('in-memory network', () => {
  it('drops about the configured fraction of frames', () => {
    const clock = new VirtualClock();
    const net = new InMemoryNetwork(clock, { latency: 10, bandwidth: 0, loss: 0.3 }, Rng.seed(9));
    const a = net.attach('a');
    const b = net.attach('b');
    let got = 0;
    b.onFrame(() => got++);
    for (let i = 0; i < 2000; i++) a.send('b', new Uint8Array(4));
    while (clock.step()) {
      /* deliver */
    }
    expect(net.stats.dropped + got).toBe(2000);
    expect(got / 2000).toBeGreaterThan(0.66);
    expect(got / 2000).toBeLessThan(0.74);
  });

  /** Node a's uplink to b at 1000 B/s, 50 ms latency; `deliver` runs the clock and returns (bytes, arrival ms) per frame. */
  function uplink() {
    const clock = new VirtualClock();
    const net = new InMemoryNetwork(clock, { latency: 50, bandwidth: 1000, loss: 0 }, Rng.seed(1));
    const a = net.attach('a');
    const arrivals: [number, number][] = [];
    net.attach('b').onFrame((_from, frame) => arrivals.push([frame.byteLength, clock.now()]));
    const deliver = () => {
      while (clock.step()) {
        /* deliver */
      }
      return arrivals;
    };
    return { a, deliver };
  }

  it('charges latency plus size over the sender uplink bandwidth', () => {
    const { a, deliver } = uplink();
    a.send('b', new Uint8Array(500)); // 500 ms on the wire
    a.send('b', new Uint8Array(500)); // queued behind the first
    expect(deliver().map(([, t]) => t)).toEqual([550, 1050]);
  });

  it('sends a control frame ahead of queued models, and charges its bytes to the models sent after it', () => {
    const { a, deliver } = uplink();
    a.send('b', new Uint8Array(500), 'bulk'); // 0–500 ms on the wire
    a.send('b', new Uint8Array(500), 'bulk'); // queued: 500–1000 ms
    a.send('b', new Uint8Array(10), 'control'); // 0–10 ms: overtakes both
    a.send('b', new Uint8Array(500), 'bulk'); // after the queue and the control bytes: 1010–1510 ms
    expect(deliver()).toEqual([
      [10, 60],
      [500, 550],
      [500, 1050],
      [500, 1560],
    ]);
  });
});

describe('churn schedule', () => {
  let dataset: Dataset;
  let learner: Learner;
  beforeAll(async () => {
    await useNodeBackend('auto', 'mlp');
    dataset = makeSynthetic('blobs', { samples: 600, classes: 3, noise: 0.15 }, Rng.seed(2));
    learner = new Learner('mlp', 2, 3);
  });

  it('fails, adds and brings back nodes at the rounds it names', () => {
    const config = parseConfig({ algo: 'fedavg', dataset: 'blobs', partition: 'iid', nodes: 10, rounds: 7, samples: 600, churn: '0.5@2,join:3@4,rejoin@6', roundTimeout: 2000 });
    const sim = new Simulation(config, dataset, learner, dataset.test, { strict: true });
    sim.run();
    // An event `@r` happens once round r is done, so row r+1 is the first to show it.
    expect(sim.rows.map((r) => r.liveNodes)).toEqual([10, 10, 5, 5, 8, 8, 13]);
    expect(sim.summary().nodes).toBe(13);
    expect(sim.summary().rejected).toEqual({});
  });
});
