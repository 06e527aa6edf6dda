import { Errors } from '@app/core';

/** How the image fills the box: sharp's `fit` names (cover crops, contain letterboxes, inside fits, fill stretches). */
export const FITS = ['cover', 'contain', 'inside', 'fill'] as const;
export type Fit = (typeof FITS)[number];

/** What a caller may ask for; `auto` picks from the request's Accept (AVIF, else WebP, else JPEG). */
export const FORMATS = ['auto', 'avif', 'webp', 'jpeg', 'png'] as const;
export type RequestedFormat = (typeof FORMATS)[number];
/** What is written. Only WebP keeps animation; AVIF, JPEG and PNG get the first frame. */
export type OutputFormat = Exclude<RequestedFormat, 'auto'>;

/** Where `cover`/`contain` anchor the image; `attention` crops around the most salient region (smart crop). */
export const GRAVITIES = [
  'center',
  'centre',
  'north',
  'northeast',
  'east',
  'southeast',
  'south',
  'southwest',
  'west',
  'northwest',
  'attention',
  'entropy',
] as const;
export type Gravity = (typeof GRAVITIES)[number];

/** Every query parameter `/render` knows; anything else is refused with 400 naming it. */
export const RENDER_QUERY_PARAMETERS = [
  'width',
  'height',
  'fit',
  'format',
  'quality',
  'dpr',
  'preset',
  'gravity',
  'enlarge',
  'animated',
  't',
  'redirect',
] as const;
/** The parameters that shape a rendition (all but `preset` and `redirect`): "free parameters". */
export const FREE_PARAMETERS = ['width', 'height', 'fit', 'format', 'quality', 'dpr', 'gravity', 'enlarge', 'animated', 't'] as const;
type FreeParameter = (typeof FREE_PARAMETERS)[number];

export const MAX_DPR = 3;
/** Longest poster-frame offset accepted (seconds). */
export const MAX_FRAME_OFFSET_SECONDS = 24 * 3600;
/** Default quality per output format (PNG is lossless: no quality). */
export const DEFAULT_QUALITY: Record<OutputFormat, number | null> = { avif: 50, webp: 80, jpeg: 80, png: null };

/** What a caller asked, validated, before the source and the Accept header are known. */
export interface RenderRequest {
  width: number | null;
  height: number | null;
  fit: Fit;
  format: RequestedFormat;
  quality: number | null;
  dpr: number;
  gravity: Gravity;
  enlarge: boolean;
  animated: boolean;
  /** Poster-frame offset in seconds (videos), null: the default (1 s). */
  t: number | null;
}

export const DEFAULT_REQUEST: RenderRequest = {
  width: null,
  height: null,
  fit: 'inside',
  format: 'auto',
  quality: null,
  dpr: 1,
  gravity: 'center',
  enlarge: false,
  animated: true,
  t: null,
};

/** Normalised and complete: what the renderer does and what the cache key is made of. */
export interface RenderSpec {
  /** Output box in pixels (dpr applied); null: that side follows the aspect ratio (both null: source size). */
  width: number | null;
  height: number | null;
  fit: Fit;
  gravity: Gravity;
  format: OutputFormat;
  quality: number | null;
  enlarge: boolean;
  animated: boolean;
  /** Seconds into a video (null for images). */
  t: number | null;
}

function bad(parameter: string, message: string): never {
  throw Errors.validation(`${parameter}: ${message}`, { parameter });
}

function integer(parameter: string, v: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(v)) bad(parameter, `must be an integer ${min}-${max}, got ${JSON.stringify(v.slice(0, 32))}`);
  const n = Number(v);
  if (n < min || n > max) bad(parameter, `must be ${min}-${max}, got ${n}`);
  return n;
}

function decimal(parameter: string, v: string, min: number, max: number): number {
  if (!/^\d{1,6}(\.\d{1,3})?$/.test(v)) bad(parameter, `must be a number ${min}-${max}, got ${JSON.stringify(v.slice(0, 32))}`);
  const n = Number(v);
  if (n < min || n > max) bad(parameter, `must be ${min}-${max}, got ${n}`);
  return n;
}

function oneOf<T extends string>(parameter: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v))
    bad(parameter, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(v.slice(0, 32))}`);
  return v as T;
}

function bool(parameter: string, v: string): boolean {
  if (v === 'true') return true;
  if (v === 'false') return false;
  return bad(parameter, `must be true or false, got ${JSON.stringify(v.slice(0, 32))}`);
}

/** Applies the free parameters present in `params` (strings, as in a query) onto `base`; 400 naming the first bad one. */
export function applyFreeParameters(
  base: RenderRequest,
  params: Partial<Record<FreeParameter, string>>,
  maxDimension: number,
): RenderRequest {
  const r = { ...base };
  const p = params;
  if (p.width !== undefined) r.width = integer('width', p.width, 1, maxDimension);
  if (p.height !== undefined) r.height = integer('height', p.height, 1, maxDimension);
  if (p.fit !== undefined) r.fit = oneOf('fit', p.fit, FITS);
  if (p.format !== undefined) r.format = oneOf('format', p.format, FORMATS);
  if (p.quality !== undefined) r.quality = integer('quality', p.quality, 1, 100);
  if (p.dpr !== undefined) r.dpr = decimal('dpr', p.dpr, 1, MAX_DPR);
  if (p.gravity !== undefined) r.gravity = oneOf('gravity', p.gravity, GRAVITIES);
  if (p.enlarge !== undefined) r.enlarge = bool('enlarge', p.enlarge);
  if (p.animated !== undefined) r.animated = bool('animated', p.animated);
  if (p.t !== undefined) r.t = decimal('t', p.t, 0, MAX_FRAME_OFFSET_SECONDS);
  for (const side of ['width', 'height'] as const) {
    const v = r[side];
    if (v !== null && Math.round(v * r.dpr) > maxDimension)
      bad(side, `${side} × dpr = ${Math.round(v * r.dpr)} is more than the ${maxDimension} pixels allowed (TRANSFORM_MAX_DIMENSION)`);
  }
  return r;
}

/** A preset from TRANSFORM_PRESETS as a request; throws naming the preset and parameter (checked at start-up). */
export function presetRequest(name: string, params: Record<string, unknown>, maxDimension: number): RenderRequest {
  const strings: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    if (!(FREE_PARAMETERS as readonly string[]).includes(k))
      throw new Error(`TRANSFORM_PRESETS: preset "${name}" has unknown parameter "${k}" (known: ${FREE_PARAMETERS.join(', ')})`);
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
      throw new Error(`TRANSFORM_PRESETS: preset "${name}" parameter "${k}" must be a string, number or boolean`);
    strings[k] = String(v);
  }
  try {
    return applyFreeParameters(DEFAULT_REQUEST, strings, maxDimension);
  } catch (e) {
    throw new Error(`TRANSFORM_PRESETS: preset "${name}": ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Who asks, and what the operator lets them ask (TRANSFORMS / TRANSFORMS_PUBLIC). */
export type TransformMode = 'off' | 'presets' | 'any';

/**
 * The query of a `/render` request → the validated request. Refuses (400) unknown or repeated parameters and bad
 * values, naming the parameter; refuses (403) what the caller's mode does not allow; 404 naming an unknown preset.
 */
export function parseRenderQuery(
  query: Record<string, unknown>,
  opts: { mode: TransformMode; presets: ReadonlyMap<string, RenderRequest>; maxDimension: number; anonymous: boolean },
): RenderRequest {
  const strings: Record<string, string> = {};
  for (const [k, v] of Object.entries(query)) {
    if (!(RENDER_QUERY_PARAMETERS as readonly string[]).includes(k))
      bad(k, `unknown parameter (known: ${RENDER_QUERY_PARAMETERS.join(', ')})`);
    if (Array.isArray(v)) bad(k, 'given more than once');
    if (typeof v !== 'string') bad(k, 'must be a string');
    strings[k] = v;
  }
  if (strings.redirect !== undefined && strings.redirect !== 'true' && strings.redirect !== 'false')
    bad('redirect', `must be true or false, got ${JSON.stringify(strings.redirect.slice(0, 32))}`);
  const who = opts.anonymous ? 'anonymous callers (TRANSFORMS_PUBLIC)' : 'this service (TRANSFORMS)';
  if (opts.mode === 'off') throw Errors.transformNotAllowed(`Image transformations are turned off for ${who}`);
  const free = FREE_PARAMETERS.filter((k) => strings[k] !== undefined);
  let base = DEFAULT_REQUEST;
  if (strings.preset !== undefined) {
    const preset = opts.presets.get(strings.preset);
    if (!preset)
      bad(
        'preset',
        `no preset named ${JSON.stringify(strings.preset.slice(0, 64))} (known: ${[...opts.presets.keys()].join(', ') || 'none'})`,
      );
    base = preset;
  }
  if (opts.mode === 'presets') {
    if (strings.preset === undefined)
      throw Errors.transformNotAllowed(
        `Only presets may be rendered for ${who}: ask ?preset=<name> (known: ${[...opts.presets.keys()].join(', ') || 'none'})`,
      );
    if (free.length) throw Errors.transformNotAllowed(`Only presets may be rendered for ${who}: ${free.join(', ')} may not be given`);
  }
  return applyFreeParameters(base, strings, opts.maxDimension);
}

/** Does an Accept header name `type` explicitly with a non-zero q? (`*\/*` and `image/*` do not count: AVIF/WebP need a clear yes.) */
export function accepts(accept: string | undefined, type: string): boolean {
  if (!accept) return false;
  for (const range of accept.toLowerCase().split(',')) {
    const [mime, ...params] = range.trim().split(';');
    if (mime.trim() !== type) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

/**
 * The request made concrete for a source and a client (Accept). `mayAnimate`: the source's type can hold several
 * frames (GIF, WebP); `auto` then prefers WebP, the one output that keeps the animation, over AVIF.
 */
export function resolveSpec(r: RenderRequest, source: { video: boolean; mayAnimate: boolean }, accept: string | undefined): RenderSpec {
  let format: OutputFormat;
  if (r.format !== 'auto') format = r.format;
  else if (source.mayAnimate && r.animated && accepts(accept, 'image/webp')) format = 'webp';
  else if (accepts(accept, 'image/avif')) format = 'avif';
  else if (accepts(accept, 'image/webp')) format = 'webp';
  else format = 'jpeg';
  const width = r.width === null ? null : Math.round(r.width * r.dpr);
  const height = r.height === null ? null : Math.round(r.height * r.dpr);
  const boxed = width !== null && height !== null && (r.fit === 'cover' || r.fit === 'contain');
  return {
    width,
    height,
    fit: r.fit,
    gravity: boxed ? (r.gravity === 'centre' ? 'center' : r.gravity) : 'center',
    format,
    quality: DEFAULT_QUALITY[format] === null ? null : (r.quality ?? DEFAULT_QUALITY[format]),
    enlarge: r.enlarge,
    animated: !source.video && source.mayAnimate && format === 'webp' && r.animated,
    t: source.video ? (r.t ?? null) : null,
  };
}

/** The spec as one canonical string (part of the cache key): equal specs, equal strings. */
export function canonicalSpec(s: RenderSpec): string {
  return [
    'v1',
    `w=${s.width ?? ''}`,
    `h=${s.height ?? ''}`,
    `fit=${s.fit}`,
    `g=${s.gravity}`,
    `f=${s.format}`,
    `q=${s.quality ?? ''}`,
    `e=${s.enlarge ? 1 : 0}`,
    `a=${s.animated ? 1 : 0}`,
    `t=${s.t ?? ''}`,
  ].join('|');
}

/** Did the answer depend on the Accept header? (then it varies by it) */
export function variesByAccept(r: RenderRequest): boolean {
  return r.format === 'auto';
}
