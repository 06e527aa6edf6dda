import type { Readable } from 'node:stream';
import sharp from 'sharp';
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
 * Decodes the image once from `input` and renders every derivative (WebP, longest side as in DERIVATIVES, never
 * enlarged, EXIF orientation applied and metadata stripped). sharp refuses more than `maxPixels` pixels.
 */
export async function renderDerivatives(input: Readable, maxPixels: number): Promise<RenderedDerivative[]> {
  const source = sharp({ limitInputPixels: maxPixels, sequentialRead: true, pages: 1 });
  const inputFailed = new Promise<never>((_, reject) => input.once('error', reject));
  inputFailed.catch(() => undefined);
  input.pipe(source);
  try {
    return await Promise.race([
      inputFailed,
      Promise.all(
        DERIVATIVES.map(async ({ kind, size }) => {
          const { data, info } = await source
            .clone()
            .rotate()
            .resize({ width: size, height: size, fit: 'inside', withoutEnlargement: true })
            .webp({ quality: 80 })
            .toBuffer({ resolveWithObject: true });
          return { kind, data, width: info.width, height: info.height };
        }),
      ),
    ]);
  } catch (e) {
    input.destroy();
    if (e instanceof Error && /pixel limit/i.test(e.message))
      throw new PixelLimitError(`image exceeds the ${maxPixels}-pixel limit (decompression bomb protection)`);
    throw e;
  }
}
