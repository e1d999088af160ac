import type { Connect, Plugin, PreviewServer, ViteDevServer } from 'vite';
import { iceServersFromEnv } from './cli.ts';
import { datasetMiddleware, type DatasetMiddlewareOptions } from './datasetMiddleware.ts';
import { createSignalingServer, isSignalingAttached, type SignalingOptions } from './signaling.ts';

/**
 * Mounts the signaling server on Vite's own HTTP server, in dev (`configureServer`) and preview
 * (`configurePreviewServer`), so one process and one port serve the app and `/signal`. Vite's HMR
 * socket shares the server; the signaling 'upgrade' listener only touches `/signal`.
 */

export interface MurmurationPluginOptions extends Omit<SignalingOptions, 'server'> {
  /**
   * Extra Connect middlewares, mounted before Vite's own (so they win over the SPA fallback),
   * in both dev and preview.
   */
  middlewares?: Connect.NextHandleFunction[];
  /** Options for the MNIST file server at `/data/mnist/*` (server/datasetMiddleware.ts), mounted by default; `false` leaves it out. */
  datasets?: DatasetMiddlewareOptions | false;
}

export const PLUGIN_NAME = 'murmuration:server';

export function murmurationServer(options: MurmurationPluginOptions = {}): Plugin {
  const { middlewares: extra = [], datasets = {}, ...signalingOptions } = options;
  // Mounted before Vite's own handlers: the IDX files live in node_modules (not public/), so otherwise
  // the SPA fallback would answer /data/mnist/* with index.html.
  const middlewares = datasets === false ? extra : [datasetMiddleware(datasets), ...extra];

  const mount = (server: ViteDevServer | PreviewServer) => {
    const http = server.httpServer;
    const logger = server.config.logger;
    // `npm start` adds this plugin on top of the one in vite.config.ts; the first one mounts everything.
    if (http && isSignalingAttached(http)) return;
    for (const mw of middlewares) server.middlewares.use(mw);
    if (!http) {
      // Middleware mode: the embedding app owns the HTTP server and must attach the signaling server
      // itself. Vitest always runs Vite this way, so stay quiet there.
      if (!process.env.VITEST) logger.warn(`[${PLUGIN_NAME}] no HTTP server (middleware mode); /signal is not mounted`);
      return;
    }
    const signaling = createSignalingServer({
      ...signalingOptions,
      // Read lazily so `vite` run directly (without server/start.ts) still honours the env variable.
      iceServers: signalingOptions.iceServers ?? iceServersFromEnv(),
      log: signalingOptions.log ?? ((line) => logger.info(line, { timestamp: true })),
    });
    signaling.attach(http);
    // Covers close and restart alike: Vite creates a new HTTP server on restart and closes the old one.
    http.once('close', () => void signaling.close());
  };

  return {
    name: PLUGIN_NAME,
    configureServer(server) {
      mount(server);
    },
    configurePreviewServer(server) {
      mount(server);
    },
  };
}
