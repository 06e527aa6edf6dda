import Fastify from 'fastify';
import { AppError } from '../errors/error-codes';
import { jsonBodyParser, jsonNestsDeeperThan, MAX_JSON_DEPTH } from './json-body';
import { FitsBigint, isUserId, MAX_BIGINT } from './numeric-range';
import { validateSync } from 'class-validator';

const nested = (depth: number, open = '[', close = ']') => open.repeat(depth) + close.repeat(depth);

describe('jsonNestsDeeperThan', () => {
  it('counts arrays and objects, exactly at the limit and one past it', () => {
    expect(jsonNestsDeeperThan(nested(32), 32)).toBe(false);
    expect(jsonNestsDeeperThan(nested(33), 32)).toBe(true);
    expect(jsonNestsDeeperThan('{"a":'.repeat(33) + '1' + '}'.repeat(33), 32)).toBe(true);
    expect(jsonNestsDeeperThan('{"a":[{"b":[1,2,{"c":{}}]}]}', 6)).toBe(false);
    expect(jsonNestsDeeperThan('{"a":[{"b":[1,2,{"c":{}}]}]}', 5)).toBe(true);
  });

  it('skips brackets inside strings, escaped quotes included', () => {
    expect(jsonNestsDeeperThan(JSON.stringify({ s: '[[[[[[[[[[{{{{{{{{' }), 1)).toBe(false);
    expect(jsonNestsDeeperThan(JSON.stringify({ s: 'a"[[[[\\"[[[[\\' }), 1)).toBe(false);
    expect(jsonNestsDeeperThan(JSON.stringify([{ s: '"]]]]]]' }, [[[1]]]]), 4)).toBe(false);
    expect(jsonNestsDeeperThan(JSON.stringify([{ s: '"]]]]]]' }, [[[[1]]]]]), 4)).toBe(true);
  });

  it('reads UTF-8 bytes the same way as text', () => {
    for (const text of [JSON.stringify({ 'ключ€': ['[[[[💥"\\', [[1]]] }), nested(40), '"\\"[[[[[['])
      for (const max of [2, 3, 4, 32]) expect(jsonNestsDeeperThan(Buffer.from(text), max)).toBe(jsonNestsDeeperThan(text, max));
  });

  it('is a single linear pass: each byte read at most once, and it stops at the first level too deep', () => {
    // Counts the reads instead of timing them (a timed assertion fails on a busy machine, and proves less).
    const counted = (bytes: Uint8Array) => {
      const reads = { n: 0 };
      const proxy = new Proxy(bytes, {
        get(target, key) {
          if (typeof key === 'string' && /^\d+$/.test(key)) reads.n++;
          const value = Reflect.get(target, key) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      return { proxy, reads };
    };
    const deep = counted(Buffer.from(nested(512 * 1024)));
    expect(jsonNestsDeeperThan(deep.proxy, MAX_JSON_DEPTH)).toBe(true);
    expect(deep.reads.n).toBe(MAX_JSON_DEPTH + 1);
    const flat = counted(Buffer.from(' '.repeat(1024 * 1024) + '[' + JSON.stringify('\\"]]]') + ']'));
    expect(jsonNestsDeeperThan(flat.proxy, MAX_JSON_DEPTH)).toBe(false);
    // Every byte once, except the one after each backslash in a string, which is skipped unread.
    expect(flat.reads.n).toBeLessThanOrEqual(flat.proxy.length);
    expect(flat.reads.n).toBeGreaterThanOrEqual(flat.proxy.length - 2);
  });
});

describe('jsonBodyParser', () => {
  const parser = jsonBodyParser(Fastify());
  const parse = (body: string) =>
    new Promise<{ err: Error | null; value: unknown }>(
      (resolve) => void parser({} as never, Buffer.from(body), (err, value) => resolve({ err, value })),
    );

  it('parses JSON as Fastify does', async () => {
    expect(await parse('{"a":[1,{"b":"c"}]}')).toEqual({ err: null, value: { a: [1, { b: 'c' }] } });
  });

  it('refuses nesting beyond the limit with a 400 naming it, before parsing', async () => {
    const { err } = await parse(nested(1000));
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).statusCode).toBe(400);
    expect(err!.message).toContain(`at most ${MAX_JSON_DEPTH} levels`);
    expect((err as AppError).details).toEqual({ limit: MAX_JSON_DEPTH });
  });

  it('reads an empty body as no body (generated clients send Content-Type: application/json without one)', async () => {
    expect(await parse('')).toEqual({ err: null, value: undefined });
  });

  it('keeps the prototype-poisoning protection, and refuses a body of blanks as not JSON', async () => {
    for (const body of ['{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"admin":true}}}', ' ']) {
      const { err } = await parse(body);
      expect((err as { statusCode?: number }).statusCode).toBe(400);
    }
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });
});

describe('numeric ranges', () => {
  it('isUserId: a positive integer that fits BIGINT', () => {
    expect(isUserId('1')).toBe(true);
    expect(isUserId(String(MAX_BIGINT))).toBe(true);
    for (const v of [String(MAX_BIGINT + 1n), '9999999999999999999', '0', '-1', '01', '1e3', '', 1, null]) expect(isUserId(v)).toBe(false);
  });

  it('FitsBigint refuses digit strings above BIGINT and leaves other values to the other checks', () => {
    class Q {
      @FitsBigint()
      owner?: unknown;
    }
    const check = (owner: unknown) => validateSync(Object.assign(new Q(), { owner })).length;
    expect(check('9223372036854775807')).toBe(0);
    expect(check('9223372036854775808')).toBe(1);
    expect(check('9'.repeat(40))).toBe(1);
    expect(check('abc')).toBe(0);
    expect(check(undefined)).toBe(0);
  });
});
