import { ifRangeHolds, notModified, parseRange } from './local-object.http-handler';

describe('parseRange', () => {
  it('parses start-end, open-ended and suffix ranges', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=95-200', 100)).toEqual({ start: 95, end: 99 });
  });
  it('ignores absent or malformed ranges (whole body)', () => {
    expect(parseRange(undefined, 100)).toBeNull();
    expect(parseRange('bytes=0-1,5-6', 100)).toBeNull();
    expect(parseRange('items=0-1', 100)).toBeNull();
  });
  it('reports unsatisfiable ranges', () => {
    expect(parseRange('bytes=100-', 100)).toBe('invalid');
    expect(parseRange('bytes=5-2', 100)).toBe('invalid');
    expect(parseRange('bytes=-0', 100)).toBe('invalid');
  });
});

describe('conditional requests', () => {
  const etag = '"abc"';
  const lastModified = new Date('2026-11-24T10:00:00.500Z');
  const req = (headers: Record<string, string>) => ({ headers });

  it('If-None-Match decides when present (weak comparison, lists, *)', () => {
    expect(notModified(req({ 'if-none-match': '"abc"' }), etag, lastModified)).toBe(true);
    expect(notModified(req({ 'if-none-match': 'W/"abc"' }), etag, lastModified)).toBe(true);
    expect(notModified(req({ 'if-none-match': '"x", "abc"' }), etag, lastModified)).toBe(true);
    expect(notModified(req({ 'if-none-match': '*' }), etag, lastModified)).toBe(true);
    expect(notModified(req({ 'if-none-match': '"other"', 'if-modified-since': lastModified.toUTCString() }), etag, lastModified)).toBe(
      false,
    );
  });

  it('If-Modified-Since compares at one-second precision', () => {
    expect(notModified(req({ 'if-modified-since': lastModified.toUTCString() }), etag, lastModified)).toBe(true);
    expect(notModified(req({ 'if-modified-since': new Date(lastModified.getTime() - 1500).toUTCString() }), etag, lastModified)).toBe(
      false,
    );
    expect(notModified(req({ 'if-modified-since': 'yesterday' }), etag, lastModified)).toBe(false);
    expect(notModified(req({}), etag, lastModified)).toBe(false);
  });

  it('If-Range keeps the range only while the strong ETag or the date still matches', () => {
    expect(ifRangeHolds(undefined, etag, lastModified)).toBe(true);
    expect(ifRangeHolds('"abc"', etag, lastModified)).toBe(true);
    expect(ifRangeHolds('"old"', etag, lastModified)).toBe(false);
    expect(ifRangeHolds('W/"abc"', etag, lastModified)).toBe(false);
    expect(ifRangeHolds(lastModified.toUTCString(), etag, lastModified)).toBe(true);
    expect(ifRangeHolds(new Date(0).toUTCString(), etag, lastModified)).toBe(false);
  });
});
