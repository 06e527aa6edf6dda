import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { TUS_PATH } from './tus-metadata';
import { TusService } from './tus.service';

/**
 * Mounts the tus endpoint (/tus, /tus/<id>) on Fastify as its own encapsulated plugin: no body parsers there (the
 * PATCH body, `application/offset+octet-stream`, streams from the socket into the staging file), and the raw
 * request/response go to the tus server. Auth is done by TusService (Nest guards do not run on these routes).
 */
export async function registerTusRoutes(app: NestFastifyApplication): Promise<void> {
  const tus = app.get(TusService);
  await app.register(async (f: FastifyInstance) => {
    f.removeAllContentTypeParsers();
    f.addContentTypeParser('*', (_req, _payload, done) => done(null));
    for (const url of [TUS_PATH, `${TUS_PATH}/*`]) {
      f.route({
        method: ['POST', 'HEAD', 'PATCH', 'DELETE', 'OPTIONS'],
        url,
        handler: async (req, reply) => {
          reply.hijack();
          try {
            await tus.handle(req.raw, reply.raw);
          } catch (err) {
            req.log.error({ err }, 'tus request failed');
            if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8', 'Tus-Resumable': '1.0.0' });
            reply.raw.end('Internal server error\n');
          }
        },
      });
    }
  });
}
