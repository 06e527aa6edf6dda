import type { Readable } from 'node:stream';
import sharp, { type SharpOptions } from 'sharp';
import { DERIVATIVES, DerivativeKind } from '../processing.constants';
import { SHARP_IMAGE_TYPES } from '@app/core';

/** Image types that processing makes thumbnails of: those sharp decodes (SHARP_IMAGE_TYPES). */
export const DERIVABLE_IMAGE_TYPES = SHARP_IMAGE_TYPES;

export interface RenderedDerivative {
  kind: DerivativeKind;
  data: Buffer;
  width: number;
  height: number;
}

/** Where the image is read from: a file libvips opens itself (the local driver's), or a stream (remote stores). */
export type ImageSource = { file: string } | { stream: Readable };

/** The image has more pixels than allowed: refused as a possible decompression bomb. */
export class PixelLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PixelLimitError';
  }
}

/** Refuses dimensions (read from the header) whose pixel count exceeds `maxPixels`, before anything decodes them. */
export function assertPixelBudget(width: number, height: number, maxPixels: number): void {
  if (width * height > maxPixels) {
    throw new PixelLimitError(
      `image is ${width}×${height} = ${width * height} pixels, more than the ${maxPixels} allowed (decompression bomb protection)`,
    );
  }
}

/**
 * Renders the derivatives `kinds` (WebP, longest side as in DERIVATIVES, never enlarged, EXIF orientation applied
 * and metadata stripped). Each derivative is its own pipeline from the source (`clone()` shares the input, not a
 * decoded image): libvips resizes from the file, so a JPEG decodes at 1/2, 1/4 or 1/8 scale when the target is
 * small enough (shrink-on-load) — the 256 px thumbnail of a 1280×960 photo decodes 320×240 pixels, not 1.2 million.
 * sharp refuses more than `maxPixels` pixels.
 */
export async function renderDerivatives(
  source: ImageSource,
  kinds: readonly DerivativeKind[],
  maxPixels: number,
): Promise<RenderedDerivative[]> {
  const options: SharpOptions = { limitInputPixels: maxPixels, sequentialRead: true, pages: 1 };
  const input = 'file' in source ? sharp(source.file, options) : sharp(options);
  let inputFailed: Promise<never> | undefined;
  if ('stream' in source) {
    inputFailed = new Promise<never>((_, reject) => source.stream.once('error', reject));
    inputFailed.catch(() => undefined);
    source.stream.pipe(input);
  }
  const specs = DERIVATIVES.filter((d) => kinds.includes(d.kind));
  const rendering = Promise.all(
    specs.map(async ({ kind, size, effort }) => {
      const { data, info } = await input
        .clone()
        .rotate()
        .resize({ width: size, height: size, fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 80, effort })
        .toBuffer({ resolveWithObject: true });
      return { kind, data, width: info.width, height: info.height };
    }),
  );
  try {
    return await (inputFailed ? Promise.race([inputFailed, rendering]) : rendering);
  } catch (e) {
    if ('stream' in source) source.stream.destroy();
    if (e instanceof Error && /pixel limit/i.test(e.message))
      throw new PixelLimitError(`image exceeds the ${maxPixels}-pixel limit (decompression bomb protection)`);
    throw e;
  }
}
