import { networkInterfaces } from 'node:os';
import { parseIceServers, type IceServer } from '../src/core/signaling/messages.ts';

/** Shared command-line handling for `npm start` and `npm run signal`. */

export class CliError extends Error {}

export interface CliArgs {
  port: number;
  /** undefined = localhost only; '0.0.0.0' (bare `--host`) or a given address. */
  host: string | undefined;
  /** From `--ice`, else `MURMURATION_ICE_SERVERS`, else []. */
  iceServers: IceServer[];
  dev: boolean;
  build: boolean;
  help: boolean;
}

export interface CliSpec {
  /** Flags beyond --port/--host/--ice/--help that this entry point accepts. */
  extra?: Array<'dev' | 'build'>;
  defaultPort: number;
}

export const ICE_ENV = 'MURMURATION_ICE_SERVERS';

export function iceServersFromEnv(env: NodeJS.ProcessEnv = process.env): IceServer[] {
  const raw = env[ICE_ENV];
  if (raw === undefined || raw.trim() === '') return [];
  try {
    return parseIceServers(raw);
  } catch (err) {
    throw new CliError(`${ICE_ENV}: ${(err as Error).message}`);
  }
}

/** Accepts `--flag value` and `--flag=value`. `--host` takes an optional value (bare = all interfaces). */
export function parseCliArgs(argv: readonly string[], spec: CliSpec, env: NodeJS.ProcessEnv = process.env): CliArgs {
  const out: CliArgs = { port: spec.defaultPort, host: undefined, iceServers: [], dev: false, build: false, help: false };
  let ice: string | undefined;
  const extra = new Set(spec.extra ?? []);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new CliError(`${name} needs a value`);
      i++;
      return next;
    };
    const noValue = () => {
      if (inline !== undefined) throw new CliError(`${name} takes no value`);
    };
    switch (name) {
      case '--port': {
        const v = value();
        const n = Number(v);
        if (!/^\d+$/.test(v) || n > 65535) throw new CliError(`--port must be an integer from 0 to 65535, got '${v}'`);
        out.port = n;
        break;
      }
      case '--host': {
        if (inline !== undefined) out.host = inline || '0.0.0.0';
        else if (argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) out.host = argv[++i];
        else out.host = '0.0.0.0';
        break;
      }
      case '--ice':
        ice = value();
        break;
      case '--dev':
      case '--build':
        if (!extra.has(name.slice(2) as 'dev' | 'build')) throw new CliError(`unknown option '${name}'`);
        noValue();
        out[name === '--dev' ? 'dev' : 'build'] = true;
        break;
      case '--help':
      case '-h':
        out.help = true;
        break;
      default:
        throw new CliError(arg.startsWith('-') ? `unknown option '${name}'` : `unexpected argument '${arg}'`);
    }
  }
  if (ice !== undefined) {
    try {
      out.iceServers = parseIceServers(ice);
    } catch (err) {
      throw new CliError(`--ice: ${(err as Error).message}`);
    }
  } else {
    out.iceServers = iceServersFromEnv(env);
  }
  return out;
}

/** IPv4 addresses of this machine's non-internal interfaces: what classmates type into their browser. */
export function lanAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) out.push(a.address);
  }
  return out;
}

/** Run an entry point: argument errors print one line and exit 2; other failures exit 1 with the message. */
export function runCli(usage: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    if (err instanceof CliError) {
      process.stderr.write(`error: ${err.message}\n\n${usage}\n`);
      process.exit(2);
    }
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
