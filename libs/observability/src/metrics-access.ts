import { timingSafeEqual } from 'node:crypto';
import { Errors } from '@app/core';

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** With METRICS_TOKEN set, a scrape needs `Authorization: Bearer <METRICS_TOKEN>`: throws the 401 otherwise. */
export function assertMetricsAccess(expected: string | undefined, authorization: string | undefined): void {
  if (!expected) return;
  if (!authorization) throw Errors.unauthenticated('Missing Authorization header; send "Authorization: Bearer <METRICS_TOKEN>"');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!m || !sameSecret(m[1], expected)) throw Errors.unauthenticated('Invalid metrics token');
}
