import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CliError, parseCliArgs } from '../../server/cli.ts';
import { jsonDepth, parseIceServers, withoutSecrets } from '../../src/core/signaling/messages.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const spec = { defaultPort: 8787, extra: ['dev' as const, 'build' as const] };

describe('parseCliArgs', () => {
  it('parses ports, bare and valued --host, --ice, and the mode flags', () => {
    expect(parseCliArgs([], spec, {})).toMatchObject({ port: 8787, host: undefined, iceServers: [], dev: false });
    expect(parseCliArgs(['--port', '9000', '--host'], spec, {})).toMatchObject({ port: 9000, host: '0.0.0.0' });
    expect(parseCliArgs(['--host', '192.168.1.5', '--dev'], spec, {})).toMatchObject({ host: '192.168.1.5', dev: true });
    expect(parseCliArgs(['--host', '--port=1234'], spec, {})).toMatchObject({ host: '0.0.0.0', port: 1234 });
    const ice = parseCliArgs(['--ice', '[{"urls":"stun:s.example:3478"}]'], spec, {});
    expect(ice.iceServers).toEqual([{ urls: 'stun:s.example:3478' }]);
  });

  it('takes ICE servers from the environment unless --ice is given', () => {
    const env = { MURMURATION_ICE_SERVERS: '{"urls":["turn:t.example"],"username":"u","credential":"c"}' };
    expect(parseCliArgs([], spec, env).iceServers).toEqual([{ urls: ['turn:t.example'], username: 'u', credential: 'c' }]);
    expect(parseCliArgs(['--ice', '[]'], spec, env).iceServers).toEqual([]);
    expect(() => parseCliArgs([], spec, { MURMURATION_ICE_SERVERS: 'nope' })).toThrow(/MURMURATION_ICE_SERVERS/);
  });

  it('rejects bad arguments with a CliError', () => {
    for (const argv of [['--port'], ['--port', 'abc'], ['--port', '70000'], ['--ice', '{'], ['--ice', '[{"url":"x"}]'], ['--nope'], ['stray'], ['--dev=1']]) {
      expect(() => parseCliArgs(argv, spec, {}), argv.join(' ')).toThrow(CliError);
    }
    expect(() => parseCliArgs(['--dev'], { defaultPort: 1 }, {})).toThrow(/unknown option '--dev'/);
  });
});

describe('message helpers', () => {
  it('measures JSON depth without recursion', () => {
    expect(jsonDepth(1, 10)).toBe(0);
    expect(jsonDepth({ a: [1, { b: 2 }] }, 10)).toBe(3);
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(jsonDepth(deep, 32)).toBe(33);
  });
  it('strips secret and ownerKey keys at any depth, keeps everything else, and leaves the input alone', () => {
    const input = JSON.parse('{"a":1,"secret":"s","ownerKey":"k","__proto__":{"secret":"s","b":2},"list":[{"ownerKey":"k"},"secret",[{"secret":1}]],"n":null}');
    const out = withoutSecrets(input);
    expect(JSON.stringify(out)).toBe('{"a":1,"__proto__":{"b":2},"list":[{},"secret",[{}]],"n":null}');
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(input.secret).toBe('s');
    expect(withoutSecrets('plain')).toBe('plain');
  });

  it('parses a single ICE server object as a list', () => {
    expect(parseIceServers('{"urls":"stun:a"}')).toEqual([{ urls: 'stun:a' }]);
    expect(() => parseIceServers('[{"urls":[]}]')).toThrow(/invalid ICE servers/);
  });
});

describe('server/standalone.ts', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill('SIGKILL');
    child = undefined;
  });

  const run = (args: string[]) => {
    child = spawn(process.execPath, ['--import', 'tsx', 'server/standalone.ts', ...args], { cwd: repo, env: { ...process.env, MURMURATION_ICE_SERVERS: '' } });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    return { out: () => out, err: () => err, exited };
  };

  it('exits with code 2 and a one-line message (no stack) on a bad argument', async () => {
    const p = run(['--port', 'banana']);
    expect(await p.exited).toBe(2);
    expect(p.err()).toContain("error: --port must be an integer from 0 to 65535, got 'banana'");
    expect(p.err()).not.toMatch(/\n\s+at /);
  });

  it('starts, prints the endpoint and answers /health with stats', async () => {
    const p = run(['--port', '0']);
    const deadline = Date.now() + 8000;
    let m: RegExpMatchArray | null = null;
    while (!(m = p.out().match(/health: (http:\/\/127.0.0.1:\d+\/health)/))) {
      if (Date.now() > deadline) throw new Error(`no startup line; stdout: ${p.out()} stderr: ${p.err()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(p.out()).toMatch(/signal: ws:\/\/127.0.0.1:\d+\/signal/);
    const health = (await (await fetch(m[1])).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ ok: true, rooms: 0, peers: 0, connections: 0 });
    child!.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });
});
