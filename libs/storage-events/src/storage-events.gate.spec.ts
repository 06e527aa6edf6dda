import { NotFoundException } from '@nestjs/common';
import { AppError } from '@app/core';
import { StorageEventsWebhookGate } from './storage-events.gate';

describe('StorageEventsWebhookGate', () => {
  const TOKEN = 'storage-events-token-0123456789';
  const gate = new StorageEventsWebhookGate({ STORAGE_EVENTS_WEBHOOK_TOKEN: TOKEN });

  it('lets the configured bearer token through (scheme case-insensitive)', () => {
    expect(() => gate.check('POST', `Bearer ${TOKEN}`)).not.toThrow();
    expect(() => gate.check('POST', `bearer ${TOKEN}`)).not.toThrow();
  });

  it('answers 401 for a missing, malformed, wrong, shorter or longer token', () => {
    for (const h of [
      undefined,
      '',
      TOKEN,
      `Basic ${TOKEN}`,
      'Bearer x',
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN}0`,
      `Bearer ${TOKEN} extra`,
    ]) {
      let err: unknown;
      try {
        gate.check('POST', h);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).statusCode).toBe(401);
    }
  });

  it('answers 404, as for a route that does not exist, when no token is configured', () => {
    const off = new StorageEventsWebhookGate({ STORAGE_EVENTS_WEBHOOK_TOKEN: undefined });
    expect(() => off.check('POST', `Bearer ${TOKEN}`)).toThrow(NotFoundException);
    expect(() => off.check('POST', undefined)).toThrow('Cannot POST /events/storage');
  });
});
