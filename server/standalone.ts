import { createServer } from 'node:http';
import { lanAddresses, parseCliArgs, runCli } from './cli.ts';
import { createSignalingServer } from './signaling.ts';

/**
 * `npm run signal -- --port 8787 [--host [addr]] [--ice '<json>']`
 * Only the signaling endpoint (`/signal`) and `/health` (JSON stats): for hosting the app elsewhere
 * (static files) while tabs rendezvous here.
 */

const USAGE = `usage: npm run signal -- [--port N] [--host [address]] [--ice '<json>']
  --port N       port to listen on (default 8787; 0 = any free port)
  --host [addr]  listen on all interfaces (or addr) instead of localhost only
  --ice '<json>' ICE servers handed to every peer, e.g. '[{"urls":"stun:stun.example.org:3478"}]'
                 (default: $MURMURATION_ICE_SERVERS, else none: fine on one machine or a LAN)`;

runCli(USAGE, async () => {
  const args = parseCliArgs(process.argv.slice(2), { defaultPort: 8787 });
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
  const signaling = createSignalingServer({ iceServers: args.iceServers, log });

  const http = createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (pathname === '/health') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ ok: true, ...signaling.stats() }));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end(`not found; the signaling endpoint is ws://<host>${signaling.path}\n`);
  });
  http.on('upgrade', (req, socket, head) => {
    // Nothing else lives on this server, so an upgrade for another path is refused rather than left hanging.
    if (!signaling.handleUpgrade(req, socket, head)) {
      socket.on('error', () => {});
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(args.port, args.host ?? '127.0.0.1', () => resolve());
  });
  const addr = http.address();
  const port = typeof addr === 'object' && addr ? addr.port : args.port;
  const everywhere = args.host === '0.0.0.0' || args.host === '::';
  const hosts = args.host === undefined ? ['127.0.0.1'] : everywhere ? ['127.0.0.1', ...lanAddresses()] : [args.host];
  console.log(`Murmuration signaling server`);
  for (const host of hosts) {
    const h = host.includes(':') ? `[${host}]` : host; // IPv6 literal in a URL
    console.log(`  signal: ws://${h}:${port}${signaling.path}   health: http://${h}:${port}/health`);
  }
  if (args.iceServers.length > 0) console.log(`  ICE servers: ${args.iceServers.map((s) => [s.urls].flat().join(' ')).join(', ')}`);

  const shutdown = () => {
    console.log('shutting down');
    // Second Ctrl-C, or a stuck client, must not keep the process alive.
    setTimeout(() => process.exit(0), 2000).unref();
    void signaling.close().then(() => http.close(() => process.exit(0)));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
});
