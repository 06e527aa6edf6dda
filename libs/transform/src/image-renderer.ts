import sharp, { type Metadata } from 'sharp';
import type { Gravity, RenderSpec } from './render-params';
import { SHARP_IMAGE_TYPES } from '@app/core';

/** Image types `/render` accepts as sources: those sharp decodes (SHARP_IMAGE_TYPES). */
export const RENDERABLE_IMAGE_TYPES = SHARP_IMAGE_TYPES;
/** Source types that may hold several frames (kept as an animated WebP unless `animated=false`). */
export const ANIMATABLE_TYPES = new Set(['image/gif', 'image/webp']);

export const OUTPUT_MIME: Record<RenderSpec['format'], string> = {
  avif: 'image/avif',
  webp: 'image/webp',
  jpeg: 'image/jpeg',
  png: 'image/png',
};

/** The source has more pixels than allowed (read from its header; nothing was decoded). */
export class SourceTooLargeError extends Error {
  constructor(
    message: string,
    readonly pixels: number,
  ) {
    super(message);
    this.name = 'SourceTooLargeError';
  }
}

/** libvips could not read the source as an image. */
export class UndecodableSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UndecodableSourceError';
  }
}

/** A rendition written to a file (`file`), not held in memory. */
export interface RenderedImage {
  file: string;
  sizeBytes: number;
  width: number;
  height: number;
  mimeType: string;
}

/** What the source's header says (read before anything is decoded). */
export interface SourceHeader {
  width: number;
  /** Height of one frame. */
  frameHeight: number;
  frames: number;
  hasIcc: boolean;
  /** EXIF orientation (1–8; 5–8 turn it a quarter). */
  orientation: number;
}

/**
 * Working memory of an encode, in bytes per output pixel (measured with sharp 0.35 / libvips 8.18, 12 MP JPEG source,
 * MALLOC_ARENA_MAX=2: about 117 MiB to encode 2000×1500 AVIF, 30–40 MiB for PNG, WebP or JPEG, which includes the
 * shrink-on-load decode feeding it).
 */
export const ENCODE_BYTES_PER_PIXEL: Record<RenderSpec['format'], number> = { avif: 40, png: 12, webp: 12, jpeg: 14 };
/** Fixed working memory of any render (libvips buffers, the decoder's strips). */
const RENDER_BASE_BYTES = 8 * 1024 * 1024;

function position(g: Gravity): string | number {
  if (g === 'attention') return sharp.strategy.attention;
  if (g === 'entropy') return sharp.strategy.entropy;
  return g === 'centre' ? 'center' : g;
}

/** Reads the header of the image file at `path` (nothing is decoded). */
export async function readImageHeader(path: string): Promise<SourceHeader> {
  let meta: Metadata;
  try {
    meta = await sharp(path, { animated: true, limitInputPixels: false }).metadata();
  } catch (e) {
    throw new UndecodableSourceError(`the source is not an image this service can read (${e instanceof Error ? e.message : String(e)})`);
  }
  const frames = meta.pages && meta.pages > 1 ? meta.pages : 1;
  const frameHeight = meta.pageHeight ?? meta.height ?? 0;
  if (!meta.width || !frameHeight) throw new UndecodableSourceError('the source has no dimensions');
  return { width: meta.width, frameHeight, frames, hasIcc: Boolean(meta.icc), orientation: meta.orientation ?? 1 };
}

/**
 * Refuses a source over `maxPixels` (per frame; an animation may have up to 4× that in all its frames when it is to
 * stay animated): decompression bombs, told by the header before anything is decoded.
 */
export function assertRenderable(h: SourceHeader, spec: RenderSpec, opts: { maxPixels: number }): void {
  const pixels = h.width * h.frameHeight;
  if (pixels > opts.maxPixels || pixels * (spec.animated ? h.frames : 1) > opts.maxPixels * 4) {
    throw new SourceTooLargeError(
      `the source is ${h.width}×${h.frameHeight} = ${pixels} pixels${h.frames > 1 ? ` × ${h.frames} frames` : ''}, more than the ${opts.maxPixels} allowed (TRANSFORM_MAX_INPUT_PIXELS; decompression bomb protection)`,
      pixels,
    );
  }
}

/** readImageHeader, then assertRenderable. */
export async function inspectImageFile(path: string, spec: RenderSpec, opts: { maxPixels: number }): Promise<SourceHeader> {
  const h = await readImageHeader(path);
  assertRenderable(h, spec, opts);
  return h;
}

/** The output's size in pixels (one frame), as `fit` and `enlarge` make it from the source's (EXIF-oriented) size. */
export function outputSize(h: SourceHeader, spec: RenderSpec): { width: number; height: number } {
  const swap = h.orientation >= 5;
  const sw = swap ? h.frameHeight : h.width;
  const sh = swap ? h.width : h.frameHeight;
  let w = spec.width;
  let ht = spec.height;
  if (w === null && ht === null) return { width: sw, height: sh };
  if (w === null) w = Math.round((sw * ht!) / sh);
  if (ht === null) ht = Math.round((sh * w) / sw);
  if (spec.fit === 'inside' || spec.fit === 'contain') {
    const scale = Math.min(w / sw, ht / sh);
    if (spec.fit === 'inside') ({ width: w, height: ht } = { width: Math.round(sw * scale), height: Math.round(sh * scale) });
  }
  const shrink = spec.enlarge ? 1 : Math.min(1, sw / w, sh / ht);
  return { width: Math.max(1, Math.round(w * shrink)), height: Math.max(1, Math.round(ht * shrink)) };
}

/**
 * Estimated working memory (bytes) of rendering a source with this header to `spec`: what the render limiter weighs
 * against TRANSFORM_MEMORY_BUDGET_MB. Animated output counts every frame.
 */
export function renderCost(h: SourceHeader, spec: RenderSpec): number {
  const out = outputSize(h, spec);
  const frames = spec.animated ? h.frames : 1;
  return RENDER_BASE_BYTES + out.width * out.height * frames * ENCODE_BYTES_PER_PIXEL[spec.format];
}

/**
 * The same estimate when the source's header cannot be read before the render slot is taken (a source not on local
 * disk, a video's frame): from the requested size alone, a square of its larger side; no size asked → Infinity (the
 * render then runs alone).
 */
export function requestedCost(spec: RenderSpec): number {
  const side = Math.max(spec.width ?? 0, spec.height ?? 0);
  return side ? RENDER_BASE_BYTES + side * side * ENCODE_BYTES_PER_PIXEL[spec.format] : Number.POSITIVE_INFINITY;
}

/**
 * Renders the image file at `path` (libvips reads the file itself, in sequence, shrinking a JPEG while it decodes it
 * when the output is smaller) to `spec`, written by libvips to `outFile` (never held in memory): EXIF orientation
 * applied; colour converted to sRGB (an embedded profile is honoured, and the output is tagged sRGB when the source
 * had one); all other metadata (EXIF, GPS, XMP, IPTC) dropped; never enlarged unless asked; animated sources stay
 * animated (WebP output) or give their first frame. `header` is what inspectImageFile read. `timeoutSeconds` stops
 * libvips itself.
 */
export async function renderImageFile(
  path: string,
  header: SourceHeader,
  spec: RenderSpec,
  opts: { maxPixels: number; timeoutSeconds: number; outFile: string },
): Promise<RenderedImage> {
  const animated = spec.animated && header.frames > 1;
  let img = sharp(path, {
    animated,
    pages: animated ? -1 : 1,
    limitInputPixels: animated ? opts.maxPixels * 4 : opts.maxPixels,
    sequentialRead: true,
    failOn: 'none',
  })
    .timeout({ seconds: Math.max(1, Math.ceil(opts.timeoutSeconds)) })
    .rotate();
  if (spec.width !== null || spec.height !== null) {
    img = img.resize({
      width: spec.width ?? undefined,
      height: spec.height ?? undefined,
      fit: spec.fit,
      position: position(spec.gravity),
      withoutEnlargement: !spec.enlarge,
      background: spec.format === 'jpeg' ? { r: 255, g: 255, b: 255, alpha: 1 } : { r: 0, g: 0, b: 0, alpha: 0 },
    });
  }
  if (header.hasIcc) img = img.withIccProfile('srgb');
  const q = spec.quality ?? undefined;
  switch (spec.format) {
    case 'avif':
      img = img.avif({ quality: q, effort: 2 }); // effort 2: several times faster than the default, for on-the-fly encodes
      break;
    case 'webp':
      img = img.webp({ quality: q });
      break;
    case 'jpeg':
      img = img.flatten({ background: '#ffffff' }).jpeg({ quality: q });
      break;
    case 'png':
      img = img.png();
      break;
  }
  try {
    const info = await img.toFile(opts.outFile);
    return {
      file: opts.outFile,
      sizeBytes: info.size,
      width: info.width,
      height: info.pageHeight ?? info.height,
      mimeType: OUTPUT_MIME[spec.format],
    };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (/pixel limit/i.test(message))
      throw new SourceTooLargeError(
        `the source exceeds ${opts.maxPixels} pixels`,
        header.width * header.frameHeight * (animated ? header.frames : 1),
      );
    if (/timeout/i.test(message)) throw Object.assign(new Error(`render timed out: ${message}`), { name: 'RenderTimeoutError' });
    throw new UndecodableSourceError(`the source could not be rendered (${message})`);
  }
}
