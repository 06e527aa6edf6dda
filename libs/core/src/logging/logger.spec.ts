import { Writable } from 'node:stream';
import { createLogger } from './logger';

describe('createLogger', () => {
  it('never writes credentials: Authorization and X-Api-Key headers are redacted wherever headers are logged', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const log = createLogger('info', sink);
    const key = `msk_${'k'.repeat(54)}`;
    const headers = { authorization: `Bearer ${key}`, 'x-api-key': key, 'content-type': 'text/plain' };
    log.info({ headers }, 'top level');
    log.info({ req: { headers, id: '1', method: 'GET', url: '/media?sig=secret', ip: '::1' } }, 'request');
    log.info({ upstream: { headers } }, 'nested');
    const out = lines.join('');
    expect(lines).toHaveLength(3);
    expect(out).not.toContain(key);
    expect(out).not.toContain('secret');
    expect(out).toContain('text/plain');
    expect(out.match(/\[redacted\]/g)?.length).toBeGreaterThanOrEqual(5);
  });
});
