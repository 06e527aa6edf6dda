import { createHmac } from 'node:crypto';
import { newWebhookSecret, signWebhook, verifyWebhook } from './webhook-signature';

describe('webhook signatures', () => {
  const secret = newWebhookSecret();
  const body = JSON.stringify({ id: 'e1', type: 'asset.ready' });

  it('is HMAC-SHA256 over "<timestamp>.<body>" in hex', () => {
    const expected = createHmac('sha256', secret).update(`1700000000.${body}`).digest('hex');
    expect(signWebhook(secret, 1700000000, body)).toBe(`v1=${expected}`);
  });

  it('verifies a fresh signature and refuses a changed body, another secret or an old timestamp', () => {
    const now = 1700000000;
    const signature = signWebhook(secret, now, body);
    expect(verifyWebhook(secret, { timestamp: String(now), signature }, body, 300, now + 10)).toBe(true);
    expect(verifyWebhook(secret, { timestamp: String(now), signature }, body.replace('ready', 'failed'), 300, now)).toBe(false);
    expect(verifyWebhook(newWebhookSecret(), { timestamp: String(now), signature }, body, 300, now)).toBe(false);
    expect(verifyWebhook(secret, { timestamp: String(now), signature }, body, 300, now + 301)).toBe(false);
    expect(verifyWebhook(secret, { timestamp: undefined, signature }, body)).toBe(false);
  });

  it('makes distinct secrets of 32 random bytes', () => {
    const a = newWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(newWebhookSecret());
  });
});
