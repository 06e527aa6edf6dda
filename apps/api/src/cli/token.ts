/**
 * Prints a development bearer token: npm run token -- --sub 42 [--groups a,b] [--roles admin] [--ttl 3600]
 * Signs with JWT_SECRET (or the development fallback, as the service does outside production), with the JWT_ISSUER and
 * JWT_AUDIENCE in force; it expires after --ttl seconds (default and most: JWT_MAX_LIFETIME_SECONDS).
 */
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { JwtService, loadConfig } from '@app/core';

const { values } = parseArgs({
  options: {
    sub: { type: 'string', default: '1' },
    groups: { type: 'string' },
    roles: { type: 'string' },
    ttl: { type: 'string' },
  },
});
const config = loadConfig();
const list = (v?: string) =>
  v
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;
if (!/^[1-9]\d*$/.test(values.sub)) {
  process.stderr.write('--sub must be a positive integer user id\n');
  process.exit(2);
}
const ttl = values.ttl === undefined ? config.JWT_MAX_LIFETIME_SECONDS : Number(values.ttl);
if (!Number.isInteger(ttl) || ttl < 1 || ttl > config.JWT_MAX_LIFETIME_SECONDS) {
  process.stderr.write(`--ttl must be a whole number of seconds from 1 to ${config.JWT_MAX_LIFETIME_SECONDS} (JWT_MAX_LIFETIME_SECONDS)\n`);
  process.exit(2);
}
process.stdout.write(new JwtService(config).sign({ sub: values.sub, groups: list(values.groups), roles: list(values.roles) }, ttl) + '\n');
