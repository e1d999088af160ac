import { ConfigError, type Config } from '../core/config.ts';
import { dpsgd } from './dpsgd/dpsgd.ts';
import { fedavg } from './fedavg/fedavg.ts';
import { gossip } from './gossip/gossip.ts';
import { modest } from './modest/modest.ts';
import type { ProtocolModule } from './protocol.ts';

const modules: Partial<Record<Config['algo'], ProtocolModule>> = { fedavg, gossip, dpsgd, modest };

export function protocolFor(algo: Config['algo']): ProtocolModule {
  const m = modules[algo];
  if (!m) throw new ConfigError(`algorithm ${algo} is not available yet`);
  return m;
}
