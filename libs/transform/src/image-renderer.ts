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

export interface RenderedImage {
  data: Buffer;
  width: number;
  height: number;
  mimeType: string;
}

function position(g: Gravity): string | number {
  if (g === 'attention') return sharp.strategy.attention;
  if (g === 'entropy') return sharp.strategy.entropy;
  return g === 'centre' ? 'center' : g;
}

/**
 * Renders the image file at `path` (never a whole stream in memory: libvips reads the file itself) to `spec`:
 * the header is read first and a source over `maxPixels` is refused before anything is decoded; EXIF orientation
 * applied; colour converted to sRGB (an embedded profile is honoured, and the output is tagged sRGB when the source
 * had one); all other metadata (EXIF, GPS, XMP, IPTC) dropped; never enlarged unless asked; animated sources stay
 * animated (WebP output) or give their first frame. `timeoutSeconds` stops libvips itself.
 */
export async function renderImageFile(
  path: string,
  spec: RenderSpec,
  opts: { maxPixels: number; timeoutSeconds: number },
): Promise<RenderedImage> {
  let meta: Metadata;
  try {
    meta = await sharp(path, { animated: true, limitInputPixels: false }).metadata();
  } catch (e) {
    throw new UndecodableSourceError(`the source is not an image this service can read (${e instanceof Error ? e.message : String(e)})`);
  }
  const frames = meta.pages && meta.pages > 1 ? meta.pages : 1;
  const frameHeight = meta.pageHeight ?? meta.height ?? 0;
  const pixels = (meta.width ?? 0) * frameHeight;
  if (!meta.width || !frameHeight) throw new UndecodableSourceError('the source has no dimensions');
  if (pixels > opts.maxPixels || pixels * (spec.animated ? frames : 1) > opts.maxPixels * 4) {
    throw new SourceTooLargeError(
      `the source is ${meta.width}×${frameHeight} = ${pixels} pixels${frames > 1 ? ` × ${frames} frames` : ''}, more than the ${opts.maxPixels} allowed (TRANSFORM_MAX_INPUT_PIXELS; decompression bomb protection)`,
      pixels,
    );
  }
  const animated = spec.animated && frames > 1;
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
  if (meta.icc) img = img.withIccProfile('srgb');
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
    const { data, info } = await img.toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.pageHeight ?? info.height, mimeType: OUTPUT_MIME[spec.format] };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (/pixel limit/i.test(message)) throw new SourceTooLargeError(`the source exceeds ${opts.maxPixels} pixels`, pixels);
    if (/timeout/i.test(message)) throw Object.assign(new Error(`render timed out: ${message}`), { name: 'RenderTimeoutError' });
    throw new UndecodableSourceError(`the source could not be rendered (${message})`);
  }
}
