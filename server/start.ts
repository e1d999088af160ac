import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, createServer, preview, type InlineConfig, type PreviewServer, type ViteDevServer } from 'vite';
import { ICE_ENV, lanAddresses, parseCliArgs, runCli } from './cli.ts';
import { murmurationServer } from './vitePlugin.ts';

/**
 * `npm start`: one process serving the app and the signaling endpoint.
 * - default: production preview of `dist/`, building it first if it is missing (so a fresh clone just works);
 * - `--build`: rebuild `dist/` first even if it exists;
 * - `--dev`: Vite dev server with HMR.
 */

const USAGE = `usage: npm start -- [--port N] [--host [address]] [--ice '<json>'] [--dev] [--build]
  --port N       port to listen on (default 5173; the next free one is used if taken)
  --host [addr]  listen on all interfaces (or addr), for a classroom LAN; prints the LAN URLs
  --ice '<json>' ICE servers handed to every peer, e.g. '[{"urls":"stun:stun.example.org:3478"}]'
                 (default: $MURMURATION_ICE_SERVERS, else none: fine on one machine or a LAN)
  --dev          dev server with hot reload instead of the built app
  --build        rebuild dist/ before serving it`;

const root = fileURLToPath(new URL('..', import.meta.url));

function signalUrls(server: ViteDevServer | PreviewServer): string[] {
  const urls = [...(server.resolvedUrls?.local ?? []), ...(server.resolvedUrls?.network ?? [])];
  return urls.map((u) => {
    const url = new URL(u);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.pathname = '/signal';
    return url.toString();
  });
}

runCli(USAGE, async () => {
  const args = parseCliArgs(process.argv.slice(2), { defaultPort: 5173, extra: ['dev', 'build'] });
  if (args.help) {
    console.log(USAGE);
    return;
  }
  // vite.config.ts has its own murmurationServer() that reads ICE servers from the environment;
  // setting it here makes `--ice` reach that instance too, whichever instance mounts first.
  if (args.iceServers.length > 0) process.env[ICE_ENV] = JSON.stringify(args.iceServers);
  // Also added here in case vite.config.ts lacks the plugin; a second instance is a no-op.
  const common: InlineConfig = { root, plugins: [murmurationServer({ iceServers: args.iceServers })] };
  const listen = { port: args.port, host: args.host ?? 'localhost' };

  let server: ViteDevServer | PreviewServer;
  if (args.dev) {
    const dev = await createServer({ ...common, server: listen });
    await dev.listen();
    server = dev;
  } else {
    if (args.build || !existsSync(join(root, 'dist', 'index.html'))) {
      console.log(args.build ? 'Building the app…' : 'No build in dist/ yet; building the app first…');
      try {
        await build({ root, logLevel: 'warn' });
      } catch (err) {
        throw new Error(`build failed: ${(err as Error).message}\n(npm start -- --dev serves the app without building)`);
      }
    }
    server = await preview({ ...common, preview: listen });
  }

  console.log(`\n  Murmuration (${args.dev ? 'dev, hot reload' : 'built app'})`);
  server.printUrls();
  for (const u of signalUrls(server)) console.log(`  ➜  Signal:  ${u}`);
  if (args.host === '0.0.0.0' && lanAddresses().length === 0) console.log('  (no LAN interface found; only this machine can connect)');
  if (args.host === undefined) console.log('  (localhost only; use --host to let other machines on the LAN join)');
  if (args.iceServers.length > 0) console.log(`  ICE servers: ${args.iceServers.map((s) => [s.urls].flat().join(' ')).join(', ')}`);
  if (args.dev) (server as ViteDevServer).bindCLIShortcuts({ print: true });

  let stopping = false;
  const shutdown = () => {
    if (stopping) process.exit(0); // second Ctrl-C
    stopping = true;
    setTimeout(() => process.exit(0), 3000).unref();
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
});
