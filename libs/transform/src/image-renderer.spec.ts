import { ENCODE_BYTES_PER_PIXEL, outputSize, renderCost, requestedCost, SourceHeader } from './image-renderer';
import type { RenderSpec } from './render-params';

const spec = (s: Partial<RenderSpec>): RenderSpec => ({
  width: null,
  height: null,
  fit: 'inside',
  gravity: 'centre',
  format: 'webp',
  quality: null,
  enlarge: false,
  animated: false,
  t: null,
  ...s,
});
const photo: SourceHeader = { width: 4000, frameHeight: 3000, frames: 1, hasIcc: false, orientation: 1 };
const MiB = 1024 * 1024;

describe('render cost (what the render limiter weighs against TRANSFORM_MEMORY_BUDGET_MB)', () => {
  it('sizes the output as the renderer will: aspect kept, EXIF quarter turns, a box, never enlarged unless asked', () => {
    expect(outputSize(photo, spec({ width: 2000 }))).toEqual({ width: 2000, height: 1500 });
    expect(outputSize({ ...photo, orientation: 6 }, spec({ width: 1500 }))).toEqual({ width: 1500, height: 2000 });
    expect(outputSize(photo, spec({ width: 400, height: 400 }))).toEqual({ width: 400, height: 300 });
    expect(outputSize(photo, spec({ width: 400, height: 400, fit: 'cover' }))).toEqual({ width: 400, height: 400 });
    expect(outputSize(photo, spec({ width: 8000 }))).toEqual({ width: 4000, height: 3000 });
    expect(outputSize(photo, spec({ width: 8000, enlarge: true }))).toEqual({ width: 8000, height: 6000 });
    expect(outputSize(photo, spec({}))).toEqual({ width: 4000, height: 3000 });
  });

  it('weighs by output pixels × the format: a 2000 px AVIF about 120 MiB, the same WebP a third of it; animations by frames', () => {
    const avif = renderCost(photo, spec({ width: 2000, format: 'avif' }));
    const webp = renderCost(photo, spec({ width: 2000, format: 'webp' }));
    expect(avif / MiB).toBeGreaterThan(110);
    expect(avif / MiB).toBeLessThan(130);
    expect(webp).toBeLessThan(avif / 2);
    expect(renderCost(photo, spec({ width: 400, format: 'webp' })) / MiB).toBeLessThan(12);
    const gif: SourceHeader = { width: 200, frameHeight: 200, frames: 10, hasIcc: false, orientation: 1 };
    expect(renderCost(gif, spec({ animated: true })) - renderCost(gif, spec({ animated: false }))).toBe(
      9 * 200 * 200 * ENCODE_BYTES_PER_PIXEL.webp,
    );
  });

  it('without a header, weighs by the requested size alone (no size asked: runs alone)', () => {
    expect(requestedCost(spec({ width: 1000, format: 'avif' }))).toBe(
      renderCost({ ...photo, width: 1000, frameHeight: 1000 }, spec({ width: 1000, format: 'avif' })),
    );
    expect(requestedCost(spec({}))).toBe(Number.POSITIVE_INFINITY);
  });
});
