import Fastify, { FastifyInstance } from 'fastify';
import { Authenticator, currentRequestId, JwtService, MetricsService } from '@app/core';
import { installHttpObservability, isBullBoardRoute, requestIdOf } from './http-observability';

const SECRET = 'unit-test-secret-0123456789-abcdefghij';

/** A real Fastify instance with the hooks, a route like the API's and one under the Bull Board prefix. */
async function server(): Promise<{ f: FastifyInstance; metrics: MetricsService; jwt: JwtService }> {
  const f = Fastify({ requestIdHeader: false, genReqId: requestIdOf });
  const metrics = new MetricsService({ METRICS_COLLECT_TIMEOUT_MS: 1000 });
  const jwt = new JwtService({ jwtSecret: SECRET });
  installHttpObservability(f, { metrics, auth: new Authenticator(jwt), config: { METRICS_ENABLED: true, BULL_BOARD_ENABLED: true } });
  // The handler of a request with a body runs after body parsing: the context must still be there.
  f.post('/media/:id/complete', async (req) => ({ seen: currentRequestId(), body: req.body }));
  f.get('/media/:id', async () => ({ seen: currentRequestId() }));
  f.get('/admin/queues/api/queues', async () => ({ queues: [] }));
  await f.ready();
  return { f, metrics, jwt };
}

describe('request ids', () => {
  it('keeps a sane X-Request-Id, echoes it, and makes it the context of the handler (also after a body is parsed)', async () => {
    const { f } = await server();
    // Over a real socket: the body arrives in the socket's async context, not the request's.
    const base = await f.listen({ port: 0, host: '127.0.0.1' });
    const r = await fetch(`${base}/media/abc/complete`, {
      method: 'POST',
      headers: { 'x-request-id': 'given-1', 'content-type': 'application/json' },
      body: JSON.stringify({ a: 1 }),
    });
    expect(r.headers.get('x-request-id')).toBe('given-1');
    expect(await r.json()).toEqual({ seen: 'given-1', body: { a: 1 } });
    const bad = await f.inject({ method: 'GET', url: '/media/abc', headers: { 'x-request-id': 'not ok!' } });
    expect(bad.headers['x-request-id']).not.toBe('not ok!');
    expect(bad.json<{ seen: string }>().seen).toBe(bad.headers['x-request-id']);
    await f.close();
  });
});

describe('HTTP metrics', () => {
  it('labels requests by route template, and every unmatched URL as one route', async () => {
    const { f, metrics } = await server();
    await f.inject({ method: 'GET', url: '/media/0b1c' });
    await f.inject({ method: 'GET', url: '/media/ffff' });
    for (let i = 0; i < 5; i++) await f.inject({ method: 'GET', url: `/random/${i}` });
    const text = await metrics.render();
    expect(text).toContain(
      'media_http_request_duration_seconds_count{method="GET",route="/media/:id",status_code="200",status_class="2xx"} 2',
    );
    expect(text).toContain(
      'media_http_request_duration_seconds_count{method="GET",route="unmatched",status_code="404",status_class="4xx"} 5',
    );
    expect(text).not.toMatch(/route="\/random/);
    await f.close();
  });
});

describe('Bull Board guard', () => {
  it('answers 401 without a valid token, 403 without the admin role, and lets admins through', async () => {
    const { f, jwt } = await server();
    const url = '/admin/queues/api/queues';
    expect((await f.inject({ url })).statusCode).toBe(401);
    expect((await f.inject({ url, headers: { authorization: 'Bearer not-a-jwt' } })).statusCode).toBe(401);
    const user = await f.inject({ url, headers: { authorization: `Bearer ${jwt.sign({ sub: 2 })}` } });
    expect(user.statusCode).toBe(403);
    expect(user.json()).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    const admin = await f.inject({ url, headers: { authorization: `Bearer ${jwt.sign({ sub: 1, roles: ['admin'] })}` } });
    expect(admin.statusCode).toBe(200);
    expect(admin.headers['content-security-policy']).toContain("script-src 'self' 'unsafe-inline'");
    // Other routes are not the guard's business.
    expect((await f.inject({ url: '/media/x' })).statusCode).toBe(200);
    await f.close();
  });

  it('matches the board prefix only', () => {
    expect(isBullBoardRoute('/admin/queues')).toBe(true);
    expect(isBullBoardRoute('/admin/queues/api/queues/:queueName')).toBe(true);
    expect(isBullBoardRoute('/admin/queuesX')).toBe(false);
    expect(isBullBoardRoute('/admin/dead-letters')).toBe(false);
    expect(isBullBoardRoute(undefined)).toBe(false);
  });
});
