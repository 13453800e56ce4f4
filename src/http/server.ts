// The uWS application: routes, the catch-all 404, listening and closing the listen socket.
import uWS, { type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';
import type { AppContext } from './app-context.js';
import { route } from './exchange.js';
import { loopShareMetrics } from '../metrics/metrics.js';
import { methodNotAllowed, routeNotFound } from './route-errors.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerBlobVerifyRoutes } from './routes/blob-verify.js';
import { registerBlobRoutes } from './routes/blobs.js';
import { registerConsoleRoutes } from './routes/console.js';
import { registerFleetRoutes } from './routes/fleet.js';
import { registerControlPlaneRoutes } from './routes/control-plane.js';
import { registerGcRoutes } from './routes/gc.js';
import { registerImpactRoutes } from './routes/impact.js';
import { registerHfRoutes } from './routes/hf/index.js';
import { registerOciRoutes } from './routes/oci/index.js';
import { registerModelRoutes } from './routes/models.js';
import { registerOpsRoutes } from './routes/ops.js';
import { registerResolveRoutes } from './routes/resolve.js';
import { registerSessionRoutes } from './routes/session.js';
import { registerTokenRoutes } from './routes/tokens.js';
import { registerWatchRoutes } from './routes/watch.js';
import { registerWebhookRoutes } from './routes/webhooks.js';
import { registerInventoryRoutes } from './routes/inventory.js';
import { registerUploadRoutes } from './routes/uploads.js';

import { checkTlsFiles, tlsEnabled } from './tls.js';

export interface HttpServer {
  port: number;
  /** Stops accepting new connections; requests in flight carry on. */
  stopListening(): void;
}

export function createApp(ctx: AppContext): TemplatedApp {
  const tls = ctx.config.server.tls;
  let app: TemplatedApp;
  if (tlsEnabled(tls)) {
    checkTlsFiles(tls);
    app = uWS.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile });
  } else {
    app = uWS.App();
  }
  loopShareMetrics.bind(() => ctx.loopShare);
  registerResolveRoutes(app, ctx);
  registerBlobRoutes(app, ctx);
  registerUploadRoutes(app, ctx);
  registerModelRoutes(app, ctx);
  registerTokenRoutes(app, ctx);
  registerWebhookRoutes(app, ctx);
  registerInventoryRoutes(app, ctx);
  registerAuditRoutes(app, ctx);
  registerGcRoutes(app, ctx);
  registerImpactRoutes(app, ctx);
  registerBlobVerifyRoutes(app, ctx);
  registerWatchRoutes(app, ctx);
  registerFleetRoutes(app, ctx);
  registerOpsRoutes(app, ctx);
  registerControlPlaneRoutes(app, ctx);
  registerSessionRoutes(app, ctx);
  registerConsoleRoutes(app, ctx);
  registerHfRoutes(app, ctx);
  registerOciRoutes(app, ctx);
  for (const pattern of ['/v1/blobs/*', '/v1/resolve/*']) {
    app.any(
      pattern,
      route(ctx, 'unknown', (x) => methodNotAllowed(x, ['GET', 'HEAD'])),
    );
  }
  app.any(
    '/*',
    route(ctx, 'unknown', (x) => routeNotFound(x)),
  );
  return app;
}

/** Listens; `listening` sees the listen socket before the loop accepts any connection on it. */
export function listen(app: TemplatedApp, host: string, port: number, listening?: (socket: us_listen_socket) => void): Promise<HttpServer> {
  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket: us_listen_socket | false) => {
      if (!socket) {
        reject(new Error(`cannot listen on ${host}:${port} (address in use or not available)`));
        return;
      }
      listening?.(socket);
      let open: us_listen_socket | null = socket;
      resolve({
        port: uWS.us_socket_local_port(socket as unknown as uWS.us_socket),
        stopListening() {
          if (open) uWS.us_listen_socket_close(open);
          open = null;
        },
      });
    });
  });
}
