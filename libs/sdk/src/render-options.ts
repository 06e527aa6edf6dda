import type { paths } from './generated/openapi';

/** The query of GET /media/{id}/render, as the service documents it (width, height, fit, format, quality, dpr, …). */
export type RenderQuery = Omit<NonNullable<paths['/media/{id}/render']['get']['parameters']['query']>, 'redirect'>;

/** What to render (see the route's documentation), plus the Accept header that `format: 'auto'` (the default) reads. */
export interface RenderOptions {
  width?: number;
  height?: number;
  fit?: RenderQuery['fit'];
  format?: RenderQuery['format'];
  quality?: number;
  dpr?: number;
  gravity?: RenderQuery['gravity'];
  enlarge?: boolean;
  animated?: boolean;
  /** Videos: seconds into the video of the poster frame. */
  t?: number;
  /** A named rendition from the service's TRANSFORM_PRESETS. */
  preset?: string;
  /** Sent as Accept. Default: `image/avif,image/webp,image/*` (the best format the service can make). */
  accept?: string;
  signal?: AbortSignal;
}

export const DEFAULT_RENDER_ACCEPT = 'image/avif,image/webp,image/*';

/** RenderOptions → the route's query (strings), without `accept`/`signal`; undefined values left out. */
export function renderQuery(opts: RenderOptions): RenderQuery {
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts)) {
    if (k === 'accept' || k === 'signal' || v === undefined || v === null) continue;
    query[k] = String(v);
  }
  return query;
}
