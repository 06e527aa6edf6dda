import { bucketCorsRule } from './bucket-cors.rule';

describe('bucketCorsRule', () => {
  it('lets the given origins PUT/POST/GET/HEAD with the headers our signed URLs carry, and exposes ETag', () => {
    const rule = bucketCorsRule(['https://app.example.com']);
    expect(rule.AllowedOrigins).toEqual(['https://app.example.com']);
    expect(rule.AllowedMethods).toEqual(['PUT', 'POST', 'GET', 'HEAD']);
    // What presignPut signs and a browser may set (Content-Length is the browser's own, never preflighted).
    expect(rule.AllowedHeaders).toEqual(expect.arrayContaining(['content-type', 'x-amz-checksum-sha256', 'content-md5']));
    expect(rule.AllowedHeaders).not.toContain('*');
    expect(rule.ExposeHeaders).toContain('ETag');
    expect(rule.MaxAgeSeconds).toBeGreaterThan(0);
  });
});
