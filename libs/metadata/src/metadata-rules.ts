import { Errors } from '@app/core';

/** Namespaces that only processing writes (extracted EXIF, media facts, scan results); users cannot set them. */
export const RESERVED_METADATA_PREFIXES = ['exif:', 'media:', 'scan:'] as const;
export const METADATA_KEY_PATTERN = /^[a-z0-9_.:-]{1,64}$/;
export const MAX_METADATA_VALUE_BYTES = 4096;
/** User keys per asset (keys in reserved namespaces do not count). */
export const MAX_USER_METADATA_KEYS = 64;

/** The reserved namespace `key` is in, if any. */
export function reservedNamespaceOf(key: string): string | undefined {
  return RESERVED_METADATA_PREFIXES.find((p) => key.startsWith(p));
}

export function isReservedMetadataKey(key: string): boolean {
  return reservedNamespaceOf(key) !== undefined;
}

/** A well-formed key a user may write: 400 when malformed, 403 when in a reserved namespace. */
export function checkUserMetadataKey(key: unknown, field = 'key'): string {
  if (typeof key !== 'string' || !METADATA_KEY_PATTERN.test(key)) {
    throw Errors.validation(`Metadata key ${JSON.stringify(key)} is invalid: use 1-64 characters of a-z, 0-9, "_", ".", ":" and "-"`, {
      field,
      problems: ['key must match [a-z0-9_.:-]{1,64}'],
    });
  }
  const ns = reservedNamespaceOf(key);
  if (ns) throw Errors.reservedMetadataKey(key, ns);
  return key;
}

/** A string of at most MAX_METADATA_VALUE_BYTES bytes of UTF-8. */
export function checkMetadataValue(value: unknown, field = 'value'): string {
  if (typeof value !== 'string') throw Errors.validation(`${field} must be a string`, { field });
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_METADATA_VALUE_BYTES) {
    throw Errors.validation(`${field} is ${bytes} bytes; metadata values may be at most ${MAX_METADATA_VALUE_BYTES} bytes of UTF-8`, {
      field,
      limit: MAX_METADATA_VALUE_BYTES,
    });
  }
  return value;
}

/** Validates a `{ key: value }` map of user metadata (as in the upload-url body). */
export function checkUserMetadataMap(input: unknown, field = 'metadata'): Record<string, string> {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input))
    throw Errors.validation(`${field} must be an object of key/value strings`, { field });
  const entries = Object.entries(input as Record<string, unknown>);
  if (entries.length > MAX_USER_METADATA_KEYS) {
    throw Errors.validation(`${field} has ${entries.length} keys; an asset may have at most ${MAX_USER_METADATA_KEYS} user metadata keys`, {
      field,
      limit: MAX_USER_METADATA_KEYS,
    });
  }
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    checkUserMetadataKey(k, `${field}.${k}`);
    out[k] = checkMetadataValue(v, `${field}.${k}`);
  }
  return out;
}
