import { ConfigError, type Config, registerAlgorithm, registerConfigKeys } from '../core/config.ts';
import { checkSchemas } from '../core/wire/codec.ts';
import type { ProtocolModule, ProtocolVariant } from './protocol.ts';

/**
 * The algorithms this build knows. `src/protocols/index.ts` registers the built-in ones, one line
 * each; a test may register its own. Registering adds the algorithm's name and config keys to
 * the URL/CLI schema, so nothing outside the algorithm's folder names it.
 */
const modules = new Map<string, ProtocolModule>();

export function registerProtocol(m: ProtocolModule): void {
  const existing = modules.get(m.name);
  if (existing === m) return;
  if (existing) throw new Error(`algorithm '${m.name}' is already registered`);
  checkSchemas(m.schemas);
  registerAlgorithm(m.name);
  registerConfigKeys(m.config);
  modules.set(m.name, m);
}

export function protocolFor(algo: string): ProtocolModule {
  const m = modules.get(algo);
  if (!m) throw new ConfigError(`algorithm ${algo} is not available`);
  return m;
}

export function allProtocols(): ProtocolModule[] {
  return [...modules.values()];
}

/** Compare-mode runs: each algorithm's variants, or one run per algorithm. */
export function allVariants(): ProtocolVariant[] {
  return allProtocols().flatMap((m) => m.ui.variants ?? [{ id: m.name, label: m.ui.label, overrides: { algo: m.name } }]);
}

/** Resolved initialization: `init=auto` takes the algorithm's own (its paper's) choice. */
export function initMode(config: Config): 'shared' | 'independent' {
  if (config.init !== 'auto') return config.init;
  return protocolFor(config.algo).init;
}

/** The tag History and exports use for a run (gossip-vca, fedavg). */
export function algoTag(config: Config): string {
  const m = modules.get(config.algo);
  return m?.ui.tag?.(config) ?? config.algo;
}
