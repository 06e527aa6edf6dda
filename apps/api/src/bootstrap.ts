import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  AppConfig,
  CorsPolicy,
  createLogger,
  ensureDatabaseExists,
  Authenticator,
  installCors,
  MetricsService,
  NestPinoLogger,
  requestChildLogger,
  sendFrameworkError,
} from '@app/core';
import { installHttpObservability, requestIdOf } from '@app/observability';
import {
  createLocalObjectsHandler,
  LOCAL_URL_PREFIX,
  LocalUploadHooks,
  localRegionDrivers,
  RegionRouter,
  storageOriginGate,
} from '@app/storage';
import { installStorageEventsGate } from '@app/storage-events';
import { registerTusRoutes } from '@app/upload';
import type { FastifyInstance } from 'fastify';
import { AppModule } from './app.module';
import { installBodyParsing } from './body-parsing';
import { installGracefulShutdown } from './graceful-shutdown';
import { installSecurityHeaders } from './security-headers';
import { setupApiDocs } from './openapi/openapi-document';
import { validationPipe } from './validation-pipe';

export { validationPipe };

/** Builds the app (not listening). Used by main.ts and by tests that need an in-process app. */
export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  const logger = createLogger(config.LOG_LEVEL);
  if (config.jwtSecretIsDevelopmentFallback) {
    logger.warn(
      'JWT_SECRET is not set: using the DEVELOPMENT secret. Anyone can mint tokens. Set JWT_SECRET before exposing this service.',
    );
  }
  if (config.DATABASE_AUTO_CREATE) {
    if (await ensureDatabaseExists(config.DATABASE_URL)) logger.info('Created the database named in DATABASE_URL');
  }
  const adapter = new FastifyAdapter({
    loggerInstance: logger,
    // X-Request-Id: a sane incoming one is kept, else a UUID (requestIdOf); echoed and logged on every line.
    requestIdHeader: false,
    genReqId: requestIdOf,
    childLoggerFactory: requestChildLogger as never,
    // JSON and form bodies (a route may accept more: JsonBodyLimit); see installBodyParsing.
    bodyLimit: config.JSON_BODY_LIMIT_BYTES,
    // X-Forwarded-* only from TRUSTED_PROXIES (none by default): else any client could set the address that logs
    // and per-IP rate limits use (request.ip).
    trustProxy: config.trustedProxies.length ? config.trustedProxies : false,
    return503OnClosing: true,
    // Errors Fastify answers before routing (an over-long path parameter: 414; a malformed URL: 400): problem bodies.
    frameworkErrors: sendFrameworkError,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger: new NestPinoLogger(logger),
    abortOnError: false,
  });
  app.useGlobalPipes(validationPipe);
  // Request bodies: nesting depth and size limits, and a token before a body is read where the route needs one.
  installBodyParsing(app, adapter, { bodyLimit: config.JSON_BODY_LIMIT_BYTES });
  // Security headers on every API response (HSTS, nosniff, frame-ancestors, a strict CSP for the JSON API):
  // helmet's defaults, computed once at start-up (@fastify/helmet recomputes them per request).
  installSecurityHeaders(app.getHttpAdapter().getInstance());
  // POST /events/storage: its token is checked before the body is read (404 when the route is off, 401).
  installStorageEventsGate(app);
  installGracefulShutdown(app, config, logger);
  // Request id context, HTTP metrics and the Bull Board admin guard (root hooks: before any route is added).
  installHttpObservability(app.getHttpAdapter().getInstance(), { metrics: app.get(MetricsService), auth: app.get(Authenticator), config });
  // CORS for API_CORS_ORIGINS on every route (API, /storage/, /tus/): preflights answered before any guard.
  installCors(app.getHttpAdapter().getInstance(), new CorsPolicy(config.apiCorsOrigins));
  // GET /openapi.json and Swagger UI at /docs (public).
  setupApiDocs(app, config.publicBaseUrl);

  // Local storage regions are served by this service (signed URLs, with ETag/Range/conditional requests).
  const localDrivers = localRegionDrivers(app.get(RegionRouter));
  if (localDrivers.length) {
    const handle = createLocalObjectsHandler(localDrivers, app.get(LocalUploadHooks));
    // On PUBLIC_STORAGE_URL's own origin: only requests addressed there (null: same origin).
    const gate = storageOriginGate(config);
    // Its own encapsulated context: no body parsers, so uploads stream straight from the socket to disk.
    await app.register(async (f: FastifyInstance) => {
      f.removeAllContentTypeParsers();
      f.addContentTypeParser('*', (_req, _payload, done) => done(null));
      f.route({
        method: ['GET', 'HEAD', 'PUT', 'POST'],
        url: `${LOCAL_URL_PREFIX}/*`,
        handler: async (req, reply) => {
          reply.hijack();
          // Signed URLs are capabilities, not cookies: pages on other origins may show what they point to (<img>).
          reply.raw.setHeader('cross-origin-resource-policy', 'cross-origin');
          if (gate?.(req.raw, reply.raw, req.host)) return;
          await handle(req.raw, reply.raw);
        },
      });
    });
  }
  // tus resumable uploads on /tus/ (raw body streams; see libs/upload/src/tus).
  await registerTusRoutes(app);
  return app;
}
