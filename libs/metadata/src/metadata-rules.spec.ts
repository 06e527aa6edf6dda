import { AppError, ErrorCode } from '@app/core';
import {
  checkMetadataValue,
  checkUserMetadataKey,
  checkUserMetadataMap,
  isReservedMetadataKey,
  MAX_METADATA_VALUE_BYTES,
  MAX_USER_METADATA_KEYS,
} from './metadata-rules';

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return e instanceof AppError ? e.code : 'not an AppError';
  }
  return undefined;
};

describe('metadata rules', () => {
  it('accepts keys of 1-64 characters of [a-z0-9_.:-]', () => {
    for (const k of ['a', 'project', 'camera.lens', 'x-y_z:1', 'k'.repeat(64)]) expect(checkUserMetadataKey(k)).toBe(k);
  });

  it('refuses malformed keys with ValidationFailed', () => {
    for (const k of ['', 'Upper', 'with space', 'ü', 'k'.repeat(65), 'a/b', 42, undefined]) {
      expect(codeOf(() => checkUserMetadataKey(k))).toBe(ErrorCode.ValidationFailed);
    }
  });

  it('protects the reserved namespaces', () => {
    for (const k of ['exif:make', 'media:width', 'scan:result']) {
      expect(isReservedMetadataKey(k)).toBe(true);
      expect(codeOf(() => checkUserMetadataKey(k))).toBe(ErrorCode.ReservedMetadataKey);
    }
    for (const k of ['exif', 'mediax:width', 'my.exif:make']) expect(isReservedMetadataKey(k)).toBe(false);
  });

  it('limits values to 4 KiB of UTF-8, counting bytes not characters', () => {
    expect(checkMetadataValue('x'.repeat(MAX_METADATA_VALUE_BYTES))).toHaveLength(MAX_METADATA_VALUE_BYTES);
    expect(codeOf(() => checkMetadataValue('x'.repeat(MAX_METADATA_VALUE_BYTES + 1)))).toBe(ErrorCode.ValidationFailed);
    expect(codeOf(() => checkMetadataValue('é'.repeat(MAX_METADATA_VALUE_BYTES / 2 + 1)))).toBe(ErrorCode.ValidationFailed);
    expect(codeOf(() => checkMetadataValue(7))).toBe(ErrorCode.ValidationFailed);
    expect(checkMetadataValue('')).toBe('');
  });

  it('validates a whole map: at most 64 keys, each key and value checked', () => {
    expect(checkUserMetadataMap(undefined)).toEqual({});
    expect(checkUserMetadataMap({ a: '1', b: '' })).toEqual({ a: '1', b: '' });
    const many = Object.fromEntries(Array.from({ length: MAX_USER_METADATA_KEYS + 1 }, (_, i) => [`k${i}`, 'v']));
    expect(codeOf(() => checkUserMetadataMap(many))).toBe(ErrorCode.ValidationFailed);
    expect(codeOf(() => checkUserMetadataMap(['a']))).toBe(ErrorCode.ValidationFailed);
    expect(codeOf(() => checkUserMetadataMap({ 'exif:make': 'x' }))).toBe(ErrorCode.ReservedMetadataKey);
    expect(codeOf(() => checkUserMetadataMap({ ok: 1 }))).toBe(ErrorCode.ValidationFailed);
  });
});
