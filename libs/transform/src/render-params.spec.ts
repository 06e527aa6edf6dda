import { AppError } from '@app/core';
import { accepts, canonicalSpec, parseRenderQuery, presetRequest, RenderRequest, resolveSpec } from './render-params';

const presets = new Map<string, RenderRequest>([['avatar', presetRequest('avatar', { width: 128, height: 128, fit: 'cover' }, 4096)]]);
const parse = (query: Record<string, unknown>, mode: 'off' | 'presets' | 'any' = 'any', anonymous = false) =>
  parseRenderQuery(query, { mode, presets, maxDimension: 4096, anonymous });

function refusal(fn: () => unknown): { status: number; code: string; details: unknown } {
  try {
    fn();
  } catch (e) {
    if (e instanceof AppError) return { status: e.statusCode, code: e.code, details: e.details };
    throw e;
  }
  throw new Error('not refused');
}

describe('render parameters', () => {
  it('defaults to fit=inside, format=auto, never enlarging', () => {
    expect(parse({ width: '200' })).toMatchObject({ width: 200, height: null, fit: 'inside', format: 'auto', enlarge: false, dpr: 1 });
  });

  it.each([
    [{ width: '0' }, 'width'],
    [{ width: '4097' }, 'width'],
    [{ height: '1.5' }, 'height'],
    [{ fit: 'crop' }, 'fit'],
    [{ quality: '101' }, 'quality'],
    [{ dpr: '3.5' }, 'dpr'],
    [{ width: '2000', dpr: '2.5' }, 'width'],
    [{ t: 'x' }, 't'],
    [{ width: ['1', '2'] }, 'width'],
    [{ foo: '1' }, 'foo'],
    [{ preset: 'missing' }, 'preset'],
    [{ redirect: 'no' }, 'redirect'],
  ])('refuses %j with 400 naming %s', (query, parameter) => {
    expect(refusal(() => parse(query))).toEqual({ status: 400, code: 'ValidationFailed', details: { parameter } });
  });

  it('presets mode takes a preset alone; off takes nothing (403 TransformNotAllowed)', () => {
    expect(parse({ preset: 'avatar' }, 'presets', true)).toMatchObject({ width: 128, height: 128, fit: 'cover' });
    expect(refusal(() => parse({ width: '10' }, 'presets', true)).code).toBe('TransformNotAllowed');
    expect(refusal(() => parse({ preset: 'avatar', format: 'png' }, 'presets', true)).code).toBe('TransformNotAllowed');
    expect(refusal(() => parse({ preset: 'avatar' }, 'off')).status).toBe(403);
    expect(parse({ preset: 'avatar', format: 'png' }, 'any')).toMatchObject({ width: 128, format: 'png' });
  });

  it('refuses presets that do not hold, naming them', () => {
    expect(() => presetRequest('big', { width: 99999 }, 4096)).toThrow(/preset "big".*width/);
    expect(() => presetRequest('odd', { colour: 'red' }, 4096)).toThrow(/unknown parameter "colour"/);
  });

  it('reads Accept: explicit types with q > 0 only', () => {
    expect(accepts('image/avif,image/webp,*/*', 'image/avif')).toBe(true);
    expect(accepts('image/avif;q=0, image/webp', 'image/avif')).toBe(false);
    expect(accepts('*/*', 'image/webp')).toBe(false);
    expect(accepts(undefined, 'image/webp')).toBe(false);
  });

  it('resolves auto (AVIF, else WebP, else JPEG; WebP first for animatable sources) and normalises the key', () => {
    const r = parse({ width: '100', dpr: '2' });
    const still = { video: false, mayAnimate: false };
    expect(resolveSpec(r, still, 'image/avif,image/webp').format).toBe('avif');
    expect(resolveSpec(r, still, 'image/webp').format).toBe('webp');
    expect(resolveSpec(r, still, 'text/html').format).toBe('jpeg');
    expect(resolveSpec(r, { video: false, mayAnimate: true }, 'image/avif,image/webp')).toMatchObject({ format: 'webp', animated: true });
    expect(resolveSpec(r, still, 'image/webp')).toMatchObject({ width: 200, quality: 80, animated: false, t: null });
    // Equal renditions, equal keys: gravity only matters for a box; dpr folds into the size; quality defaults are explicit.
    const a = canonicalSpec(resolveSpec(parse({ width: '200', gravity: 'north' }), still, 'image/webp'));
    const b = canonicalSpec(resolveSpec(parse({ width: '100', dpr: '2', quality: '80' }), still, 'image/webp'));
    expect(a).toBe(b);
    expect(canonicalSpec(resolveSpec(parse({ width: '200', height: '100', fit: 'cover', gravity: 'north' }), still, undefined))).toContain(
      'g=north',
    );
  });
});
