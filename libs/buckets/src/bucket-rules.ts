import { Errors } from '@app/core';

/** The system bucket of assets uploaded without a bucket (their path is their id). Nobody owns it. */
export const DEFAULT_BUCKET = 'default';
export const BUCKET_NAME_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
export const MAX_PATH_BYTES = 1024;
export const MAX_ALLOWED_MIME_TYPES = 100;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** 400 naming the field unless `name` is a bucket name: 3–63 characters of [a-z0-9.-], starting and ending alphanumeric. */
export function checkBucketName(name: unknown, field = 'bucket'): string {
  if (typeof name !== 'string' || !BUCKET_NAME_PATTERN.test(name) || name.includes('..')) {
    throw Errors.validation(
      `${field} ${JSON.stringify(typeof name === 'string' ? name.slice(0, 80) : name)} is not a bucket name: 3-63 characters of a-z, 0-9, "." and "-", starting and ending with a letter or digit, no ".."`,
      { field },
    );
  }
  return name;
}

/**
 * The path as stored (NFC), or 400 naming the field: 1–1024 bytes of UTF-8, no leading "/", no "." or ".."
 * segment, no empty segment, no control characters (C0, DEL, C1), no lone surrogates.
 */
export function checkPath(raw: unknown, field = 'path'): string {
  const fail = (why: string) => {
    throw Errors.validation(`${field} ${why}`, { field });
  };
  if (typeof raw !== 'string') return fail('must be a string');
  if (LONE_SURROGATE.test(raw)) return fail('must be valid UTF-8 (it contains a lone surrogate)');
  const path = raw.normalize('NFC');
  const bytes = Buffer.byteLength(path, 'utf8');
  if (bytes < 1 || bytes > MAX_PATH_BYTES) return fail(`must be 1-${MAX_PATH_BYTES} bytes of UTF-8 (it is ${bytes})`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(path)) return fail('must not contain control characters');
  if (path.startsWith('/')) return fail('must not start with "/" (paths are relative to the bucket)');
  if (path.includes('\\')) return fail('must not contain "\\" (use "/" between folders)');
  for (const segment of path.split('/').slice(0, -1)) {
    if (segment === '') return fail('must not contain an empty folder ("//")');
  }
  for (const segment of path.split('/')) {
    if (segment === '..' || segment === '.') return fail(`must not contain a "${segment}" segment`);
  }
  if (path.endsWith('/')) return fail('must name a file, not a folder (it ends with "/")');
  return path;
}

/** A listing prefix (may be empty or end with "/"): the same characters as a path, NFC. */
export function checkPrefix(raw: unknown, field = 'prefix'): string {
  if (raw === undefined || raw === '') return '';
  if (typeof raw !== 'string') throw Errors.validation(`${field} must be a string`, { field });
  const prefix = raw.normalize('NFC');
  if (Buffer.byteLength(prefix, 'utf8') > MAX_PATH_BYTES) {
    throw Errors.validation(`${field} must be at most ${MAX_PATH_BYTES} bytes`, { field });
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(prefix) || LONE_SURROGATE.test(prefix)) {
    throw Errors.validation(`${field} must not contain control characters`, { field });
  }
  return prefix;
}

/** Whether `mimeType` matches one of `allowed` (exact types, or "major/*"). */
export function mimeTypeAllowed(allowed: string[] | null, mimeType: string): boolean {
  if (!allowed || !allowed.length) return true;
  const major = mimeType.split('/')[0];
  return allowed.some((a) => a === mimeType || a === `${major}/*`);
}

/** The smallest string sorting (byte order) after every string that starts with `prefix`. */
export function prefixSuccessor(prefix: string): string {
  const cps = [...prefix];
  const last = cps.pop()!;
  return cps.join('') + String.fromCodePoint(last.codePointAt(0)! + 1);
}
