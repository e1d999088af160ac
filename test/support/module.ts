import type { ProtocolModule } from '../../src/protocols/protocol.ts';

/** A protocol module for tests: the fields a test cares about, defaults for the rest. */
export function testModule(m: Pick<ProtocolModule, 'name' | 'schemas' | 'evaluates' | 'create'> & Partial<ProtocolModule>): ProtocolModule {
  return {
    config: {},
    init: 'shared',
    coordinator: false,
    linkBudget: () => 12,
    roundBudgetMs: () => 1000,
    ui: { label: m.name, explain: 'A test module.', paper: 'none', topologyCaption: '' },
    ...m,
  };
}
