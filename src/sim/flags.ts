import { availableParallelism } from 'node:os';
import { ConfigError, CONFIG_KEYS, hashToInput, parseConfig, type Config, type ConfigInput } from '../core/config.ts';

export interface CliOptions {
  config: Config;
  json: boolean;
  help: boolean;
  quiet: boolean;
  /** `--dense-sgd off`: train one job at a time on the learner (the old path), to compare against the default. */
  denseSgd: boolean;
  /** Compute threads (`--threads N`): default every core; 1 runs all compute on the main thread. */
  threads: number;
}

const OWN_FLAGS = new Set(['json', 'help', 'quiet', 'config', 'dense-sgd', 'threads']);

/**
 * `--key value`, `--key=value` and `--config '<url hash>'`; flags after `--config`
 * override it. Every config key of the URL is a flag, with the same name.
 */
export function parseFlags(argv: readonly string[]): CliOptions {
  const input: ConfigInput = {};
  let json = false;
  let help = false;
  let quiet = false;
  let denseSgd = true;
  let threads = availableParallelism();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}" (flags look like --nodes 8)`);
    const eq = arg.indexOf('=');
    const key = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    if (key === 'json' || key === 'help' || key === 'quiet') {
      if (key === 'json') json = true;
      else if (key === 'help') help = true;
      else quiet = true;
      continue;
    }
    let value: string;
    if (eq > 0) value = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) throw new ConfigError(`--${key} needs a value`);
      value = argv[++i];
    }
    if (key === 'config') {
      const fromHash = hashToInput(value.includes('#') ? value.slice(value.indexOf('#')) : value);
      Object.assign(input, fromHash);
      continue;
    }
    if (key === 'dense-sgd') {
      if (value !== 'on' && value !== 'off') throw new ConfigError(`--dense-sgd is on or off (got "${value}")`);
      denseSgd = value === 'on';
      continue;
    }
    if (key === 'threads') {
      threads = Number(value);
      if (!Number.isInteger(threads) || threads < 1) throw new ConfigError(`--threads needs a whole number of at least 1, got "${value}"`);
      continue;
    }
    if (!(CONFIG_KEYS as string[]).includes(key) && !OWN_FLAGS.has(key)) throw new ConfigError(`unknown flag --${key}`);
    (input as Record<string, string>)[key] = value;
  }
  return { config: parseConfig(input), json, help, quiet, denseSgd, threads };
}
