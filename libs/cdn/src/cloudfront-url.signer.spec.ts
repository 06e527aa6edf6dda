import { generateKeyPairSync } from 'node:crypto';
import { verifyCloudFrontSignedUrl as verifyCloudFrontUrl } from '../../../test/support/cloudfront';
import { CloudFrontUrlSigner } from './cloudfront-url.signer';

describe('CloudFrontUrlSigner', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const pub = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const signer = new CloudFrontUrlSigner({
    baseUrl: 'https://d111111abcdef8.cloudfront.net/',
    keyPairId: 'K2JCJMDEHXQW5F',
    privateKey: pem,
    hash: 'SHA1',
  });

  it('maps keys to distribution paths', () => {
    expect(signer.objectUrl('objects/ab/abc')).toBe('https://d111111abcdef8.cloudfront.net/objects/ab/abc');
    expect(signer.invalidationPath('objects/ab/abc')).toBe('/objects/ab/abc');
  });

  it('signs a canned policy that the public key verifies, with the expiry asked for', () => {
    const expiresAt = new Date(Date.now() + 300_000);
    const url = signer.sign('objects/ab/abc', expiresAt, { 'response-content-disposition': 'attachment; filename="a b.jpg"' });
    const v = verifyCloudFrontUrl(url, pub);
    expect(v).toMatchObject({ valid: true, keyPairId: 'K2JCJMDEHXQW5F' });
    expect(Math.abs(v.expires - expiresAt.getTime() / 1000)).toBeLessThanOrEqual(1);
    expect(v.resource).toContain('response-content-disposition=');
  });

  it('gives signatures that no longer verify once the URL is altered', () => {
    const url = signer.sign('objects/ab/abc', new Date(Date.now() + 60_000));
    const tampered = url.replace('objects/ab/abc', 'objects/ab/abd');
    expect(verifyCloudFrontUrl(tampered, pub).valid).toBe(false);
    const longer = new URL(url);
    longer.searchParams.set('Expires', String(Number(longer.searchParams.get('Expires')) + 3600));
    expect(verifyCloudFrontUrl(longer.toString(), pub).valid).toBe(false);
  });

  it('signs with SHA-256 when configured (Hash-Algorithm=SHA256)', () => {
    const s256 = new CloudFrontUrlSigner({ baseUrl: 'https://cdn.example.com', keyPairId: 'K1', privateKey: pem, hash: 'SHA256' });
    const url = s256.sign('k', new Date(Date.now() + 60_000));
    expect(new URL(url).searchParams.get('Hash-Algorithm')).toBe('SHA256');
    expect(verifyCloudFrontUrl(url, pub, 'SHA256').valid).toBe(true);
  });
});
