/**
 * Image types sharp (with its bundled libvips) decodes: what processing makes thumbnails of and what `/render`
 * accepts as a source. SVG is left out on purpose (a script-capable format, rendered by a different library).
 */
export const SHARP_IMAGE_TYPES: ReadonlySet<string> = new Set([
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/gif',
  'image/avif',
  'image/tiff',
  'image/heic',
  'image/heif',
]);
