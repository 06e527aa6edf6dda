import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Errors, STORAGE_EVENTS_CONFIG, StorageEventsConfig } from '@app/core';
import type { FastifyInstance } from 'fastify';

/** Fastify route config key that marks the webhook route (see StorageEventsController). */
export const STORAGE_EVENTS_WEBHOOK_ROUTE = 'storageEventsWebhook';
export const STORAGE_EVENTS_WEBHOOK_PATH = '/events/storage';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Who may post storage events: `Authorization: Bearer <STORAGE_EVENTS_WEBHOOK_TOKEN>`, compared in constant time
 * (SHA-256 of both sides, so neither the length nor a prefix leaks). Without a token configured the route answers
 * exactly what a route that does not exist answers (404).
 */
@Injectable()
export class StorageEventsWebhookGate {
  private readonly expected?: Buffer;

  constructor(@Inject(STORAGE_EVENTS_CONFIG) settings: Pick<StorageEventsConfig, 'STORAGE_EVENTS_WEBHOOK_TOKEN'>) {
    const token = settings.STORAGE_EVENTS_WEBHOOK_TOKEN;
    this.expected = token ? digest(token) : undefined;
  }

  /** Throws the 404 (no token configured) or 401 (missing or wrong token). */
  check(method: string, authorization: string | undefined): void {
    if (!this.expected) throw new NotFoundException(`Cannot ${method} ${STORAGE_EVENTS_WEBHOOK_PATH}`);
    if (!authorization)
      throw Errors.unauthenticated('Missing Authorization header; send "Authorization: Bearer <STORAGE_EVENTS_WEBHOOK_TOKEN>"');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m || !timingSafeEqual(digest(m[1]), this.expected)) throw Errors.unauthenticated('Invalid storage events token');
  }
}

/**
 * Checks the webhook's caller when the request arrives, before its body is read or parsed: so an unset token is a
 * 404 and a wrong one a 401 whatever the body holds. Call in the bootstrap, before the app is initialised.
 */
export function installStorageEventsGate(app: NestFastifyApplication): void {
  const gate = app.get(StorageEventsWebhookGate);
  const fastify: FastifyInstance = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (req, reply, done) => {
    const config = req.routeOptions.config as unknown as Record<string, unknown> | undefined;
    if (!config?.[STORAGE_EVENTS_WEBHOOK_ROUTE]) return done();
    try {
      gate.check(req.method, req.headers.authorization);
    } catch (e) {
      reply.header('connection', 'close'); // the unread body is not waited for
      return done(e as Error);
    }
    done();
  });
}
