/**
 * A request-body DTO may offer a fast path for its most common valid bodies: a function that either answers the DTO
 * exactly as class-transformer + class-validator (the global ValidationPipe: transform, whitelist,
 * forbidNonWhitelisted) would for that body, or `undefined` — "not sure" — and the body then goes through the
 * ValidationPipe as always. So every refusal and its 400 message still comes from class-validator; the fast path only
 * skips the decorator machinery (metadata look-ups, one executor per constraint) on bodies it can prove valid.
 * Each fast path is tested against the ValidationPipe's own answer on generated bodies, valid and not.
 */
export const BODY_FAST_PATH = Symbol('bodyFastPath');

export type BodyFastPath<T> = (body: unknown) => T | undefined;

/** The fast path a DTO class declares (`static [BODY_FAST_PATH] = …`), if any. */
export function bodyFastPathOf(metatype: unknown): BodyFastPath<unknown> | undefined {
  if (typeof metatype !== 'function') return undefined;
  const fast = (metatype as unknown as Record<symbol, unknown>)[BODY_FAST_PATH];
  return typeof fast === 'function' ? (fast as BodyFastPath<unknown>) : undefined;
}

/** A JSON object body as JSON.parse makes it (not an array, not null, no prototype games). */
export function isPlainJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}
