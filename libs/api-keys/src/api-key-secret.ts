import { createHash, randomBytes } from 'node:crypto';
import { API_KEY_PREFIX } from '@app/core';

/** Random bytes per key: 320 bits, so even with the displayed prefix known, far more than 256 bits stay secret. */
const KEY_BYTES = 40;
/** Characters of the key shown in lists (`msk_` + 8): 48 bits of the randomness, enough to tell keys apart. */
const DISPLAY_PREFIX_LENGTH = API_KEY_PREFIX.length + 8;
/** `msk_` + base64url of KEY_BYTES (54 characters, no padding). */
const KEY_PATTERN = new RegExp(`^${API_KEY_PREFIX}[A-Za-z0-9_-]{${Math.ceil((KEY_BYTES * 4) / 3)}}$`);

export interface NewApiKeySecret {
  /** The whole key: handed to the creator once, never stored. */
  key: string;
  /** SHA-256 (hex) of the key: stored, and what lookups use. */
  hash: string;
  /** Its first characters, stored for display. */
  prefix: string;
}

/**
 * SHA-256 of the key. A fast hash is right here: the key carries 320 random bits, so there is no dictionary to
 * try (a slow password hash protects low-entropy secrets, which these are not), and lookups stay one index probe.
 */
export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

export function generateApiKey(): NewApiKeySecret {
  const key = `${API_KEY_PREFIX}${randomBytes(KEY_BYTES).toString('base64url')}`;
  return { key, hash: hashApiKey(key), prefix: key.slice(0, DISPLAY_PREFIX_LENGTH) };
}

/** Whether `key` has the shape of a key this service issues (a cheap refusal before any lookup). */
export const isWellFormedApiKey = (key: string): boolean => KEY_PATTERN.test(key);
