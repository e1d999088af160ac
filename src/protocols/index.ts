import { ConfigError, type Config } from '../core/config.ts';
import { fedavg } from './fedavg/fedavg.ts';
import type { ProtocolModule } from './protocol.ts';

const modules: Partial<Record<Config['algo'], ProtocolModule>> = { fedavg };

export function protocolFor(algo: Config['algo']): ProtocolModule {
  const m = modules[algo];
  if (!m) throw new ConfigError(`algorithm ${algo} is not available yet`);
  return m;
}
