import { checkBucketName, checkPath, mimeTypeAllowed, prefixSuccessor } from './bucket-rules';

describe('bucket rules', () => {
  it('accepts bucket names of 3-63 [a-z0-9.-] starting and ending alphanumeric', () => {
    for (const ok of ['abc', 'my-bucket.2026', 'a'.repeat(63), '0-0']) expect(checkBucketName(ok)).toBe(ok);
    for (const bad of ['ab', 'a'.repeat(64), 'Abc', '-abc', 'abc-', 'a..b', 'a_b', 'a b', 'ä-b', 3]) {
      expect(() => checkBucketName(bad)).toThrow(/not a bucket name/);
    }
  });

  it('normalises paths to NFC and refuses traversal, absolute, control characters, empty segments and over-long paths', () => {
    expect(checkPath('cafe\u0301/x.png')).toBe('caf\u00e9/x.png');
    expect(checkPath('a/b/c d.txt')).toBe('a/b/c d.txt');
    expect(checkPath('..a/b..')).toBe('..a/b..');
    expect(checkPath('€'.repeat(341))).toHaveLength(341); // 1023 bytes
    for (const bad of [
      '',
      '/a',
      '../a',
      'a/../b',
      'a/..',
      './a',
      'a//b',
      'a/',
      'a\u0000b',
      'a\nb',
      'a\u007fb',
      'a\u0085b',
      'a\\b',
      '€'.repeat(342),
      '\ud800x',
    ]) {
      expect(() => checkPath(bad)).toThrow(/^path /);
    }
  });

  it('matches allowed types exactly or by major type', () => {
    expect(mimeTypeAllowed(null, 'text/plain')).toBe(true);
    expect(mimeTypeAllowed([], 'text/plain')).toBe(true);
    expect(mimeTypeAllowed(['image/*'], 'image/png')).toBe(true);
    expect(mimeTypeAllowed(['image/png'], 'image/jpeg')).toBe(false);
    expect(mimeTypeAllowed(['image/*', 'application/pdf'], 'application/pdf')).toBe(true);
  });

  it('the successor of a prefix sorts after everything under it', () => {
    expect(prefixSuccessor('a/')).toBe('a0');
    expect(Buffer.compare(Buffer.from('a/\u{10fff}zzz'), Buffer.from(prefixSuccessor('a/')))).toBe(-1);
  });
});
