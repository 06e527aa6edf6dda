export * from './transform.module';
export { RenditionService, RENDITION_DELETE_TOPIC } from './rendition.service';
export type { RenderAnswer } from './rendition.service';
export { parseRenderQuery, resolveSpec, canonicalSpec, accepts, presetRequest, FITS, FORMATS, GRAVITIES } from './render-params';
export type { RenderRequest, RenderSpec, TransformMode } from './render-params';
export { RenderLimiter } from './render-limiter';
