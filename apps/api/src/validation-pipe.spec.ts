import 'reflect-metadata';
import { ArgumentMetadata, ValidationPipe } from '@nestjs/common';
import { AppError } from '@app/core';
import { CreateUploadUrlDto } from '@app/upload';
import { fastCreateUploadUrl } from '../../../libs/upload/src/create-upload-url.dto';
import { validationOptions, validationPipe } from './validation-pipe';

const BODY: ArgumentMetadata = { type: 'body', metatype: CreateUploadUrlDto, data: undefined };

/** The ValidationPipe without any fast path: class-transformer + class-validator, what the fast path must agree with. */
const decoratorsOnly = new ValidationPipe(validationOptions);

type Outcome = { ok: true; dto: unknown } | { ok: false; status: number; message: string; details: unknown };

async function outcome(pipe: ValidationPipe, body: unknown): Promise<Outcome> {
  try {
    return { ok: true, dto: await pipe.transform(body, BODY) };
  } catch (e) {
    if (!(e instanceof AppError)) throw e;
    return { ok: false, status: e.statusCode, message: e.message, details: e.details };
  }
}

/** A small deterministic generator (mulberry32), so a failure names a case that can be replayed. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ABSENT = Symbol('absent');
const hex64 = 'ab'.repeat(32);
/** Per field: absent, valid values at and around each rule's edges, and invalid ones of every JSON type. */
const POOLS: Record<string, unknown[]> = {
  filename: [
    ABSENT,
    'photo.jpg',
    '  padded.png  ',
    'a',
    'x'.repeat(255),
    'x'.repeat(256),
    ` ${'y'.repeat(255)} `,
    '😀'.repeat(128),
    '😀'.repeat(127) + 'a',
    'e\u0301\uFE0F'.repeat(90),
    'tab\tname',
    'del\u007f',
    '',
    '   ',
    'Ünïcødé.txt',
    42,
    null,
    true,
    ['a'],
    { a: 1 },
  ],
  mimeType: [
    ABSENT,
    'image/jpeg',
    ' IMAGE/PNG ',
    'application/vnd.api+json',
    'image/jpeg; q=1',
    'image',
    '',
    'a/b',
    7,
    null,
    ['image/png'],
  ],
  sizeBytes: [ABSENT, 0, 1, 1_000_000, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, -1, 1.5, '100', null, 1e300],
  checksumSha256: [ABSENT, hex64, hex64.toUpperCase(), hex64.slice(1), `${hex64}0`, 'g'.repeat(64), null, 5],
  expiresInSeconds: [ABSENT, 1, 60, 0, -5, 2.5, Number.MAX_SAFE_INTEGER, '60', null],
  mode: [ABSENT, 'put', 'post', 'PUT', 'form', null, 1],
  multipart: [ABSENT, true, false, 'true', 0, null],
  bucket: [ABSENT, 'default', 'b'.repeat(63), 'b'.repeat(64), '', 12, null],
  path: [ABSENT, 'avatars/42/me.png', 'p'.repeat(4096), 'p'.repeat(4097), '../up', null, 3],
  acl: [ABSENT, [], [{ principal: 'group:editors', permission: 'read' }], 'all'],
  metadata: [ABSENT, {}, { project: 'x' }, 'meta'],
  extra: [ABSENT, ABSENT, ABSENT, ABSENT, 1],
};

/** A fresh copy, as the body parser would make it (JSON.parse: structuredClone answers objects of another realm under jest). */
const copy = (b: unknown): unknown => JSON.parse(JSON.stringify(b));

function body(next: () => number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, pool] of Object.entries(POOLS)) {
    // Mostly valid values, so that many bodies pass and the fast path is exercised as much as refusals are.
    const rare = field === 'acl' || field === 'metadata' || field === 'extra';
    const pick = rare && next() < 0.7 ? ABSENT : next() < 0.75 ? pool[1 + Math.floor(next() * 2)] : pool[Math.floor(next() * pool.length)];
    if (pick !== ABSENT && !(field === 'extra' && next() < 0.5)) out[field] = pick;
  }
  if (next() < 0.15) delete out.filename;
  return out;
}

describe('CreateUploadUrlDto fast path', () => {
  it('answers exactly what class-transformer + class-validator answer, or leaves the body to them', async () => {
    const next = rng(15);
    let fast = 0;
    let refused = 0;
    for (let i = 0; i < 4000; i++) {
      const b = body(next);
      const reference = await outcome(decoratorsOnly, copy(b));
      const quick = fastCreateUploadUrl(copy(b));
      if (quick !== undefined) {
        fast++;
        expect({ case: i, body: b, reference }).toEqual({ case: i, body: b, reference: { ok: true, dto: quick } });
        expect(quick).toBeInstanceOf(CreateUploadUrlDto);
      }
      if (!reference.ok) refused++;
      // And the pipe the service runs answers what the decorators answer, 400 messages included.
      expect({ case: i, body: b, answer: await outcome(validationPipe, copy(b)) }).toEqual({
        case: i,
        body: b,
        answer: reference,
      });
    }
    expect(fast).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(1000);
  });

  it('takes the common bodies, and leaves acl, metadata, null and unknown fields to class-validator', () => {
    const dto = fastCreateUploadUrl({ filename: ' a.jpg ', mimeType: 'Image/JPEG', sizeBytes: 5, checksumSha256: hex64.toUpperCase() });
    expect(dto).toBeInstanceOf(CreateUploadUrlDto);
    expect({ ...dto }).toMatchObject({ filename: 'a.jpg', mimeType: 'image/jpeg', sizeBytes: 5, checksumSha256: hex64 });
    const base = { filename: 'a.jpg', mimeType: 'image/jpeg', sizeBytes: 5 };
    for (const extra of [
      { acl: [] },
      { metadata: {} },
      { checksumSha256: null },
      { bucket: null },
      { unknown: 1 },
      JSON.parse('{"__proto__": 1}'),
    ]) {
      expect(fastCreateUploadUrl({ ...base, ...extra })).toBeUndefined();
    }
    expect(fastCreateUploadUrl(Object.assign(Object.create({ inherited: true }), base))).toBeUndefined();
    expect(fastCreateUploadUrl([base])).toBeUndefined();
    expect(fastCreateUploadUrl(null)).toBeUndefined();
  });
});
