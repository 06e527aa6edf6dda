import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, getSchemaPath, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { API_KEY_SCHEME, AUTHENTICATED, BEARER_SCHEME, ErrorCode, ProblemDto } from '@app/core';
import { STORAGE_EVENTS_TOKEN_SCHEME } from '@app/storage-events';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The service version from the repository's package.json (found upwards from here, in src/ or dist/). */
function packageVersion(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return '0.0.0';
}

const DESCRIPTION = [
  'Media storage control plane: pre-signed uploads, processing, metadata, sharing, downloads.',
  '',
  'Every 4xx/5xx answer is one problem body `{ statusCode, error, message, details? }` (`ProblemDto`); `error` is a',
  'stable code from the catalogue (`ErrorCode`). Bytes never pass through these routes: upload with the `uploadUrl`',
  'and `headers` that `POST /media/upload-url` returns, download from the URL `GET /media/{id}/download` redirects to.',
].join('\n');

type Operation = {
  parameters?: unknown[];
  requestBody?: unknown;
  security?: Record<string, string[]>[];
  responses: Record<string, unknown>;
};

type ProblemResponse = { description?: string; content?: { 'application/json'?: { schema?: ProblemSchema } } };
type ProblemSchema = {
  $ref?: string;
  allOf?: { $ref?: string; type?: string; properties?: { error?: { type?: string; enum?: string[] } } }[];
};

const problem = (description: string, codes: ErrorCode[]): ProblemResponse => ({
  description,
  content: {
    'application/json': {
      schema: { allOf: [{ $ref: getSchemaPath(ProblemDto) }, { type: 'object', properties: { error: { type: 'string', enum: codes } } }] },
    },
  },
});

/**
 * Adds `codes` to the route's documented answer for `status` (its enum becomes the union), or documents the answer
 * when the route does not: every code a route can answer is in its enum.
 */
function addProblem(op: Operation, status: string, description: string, codes: ErrorCode[]): void {
  const existing = op.responses[status] as ProblemResponse | undefined;
  if (!existing) {
    op.responses[status] = problem(description, codes);
    return;
  }
  const enumOf = existing.content?.['application/json']?.schema?.allOf?.[1]?.properties?.error;
  if (enumOf?.enum) enumOf.enum = [...new Set([...enumOf.enum, ...codes])];
}

const SUCCESS: Record<string, string> = { '200': 'OK', '201': 'Created', '202': 'Accepted', '204': 'No content' };

/** Operation ids read as what they do: AssetsController.list → assetsList. */
const operationId = (controllerKey: string, methodKey: string) => {
  const c = controllerKey.replace(/Controller$/, '');
  return `${c[0].toLowerCase()}${c.slice(1)}${methodKey[0].toUpperCase()}${methodKey.slice(1)}`;
};

/**
 * Errors every route can answer, joined to what the route documents itself: 400 where it takes parameters or a body
 * (validation), 414 where it has path parameters (the router's length limit), 413/415 where a body is read (body parsing), 401 where it needs a token, 500 and 503 everywhere.
 */
function addStandardProblems(doc: OpenAPIObject): void {
  for (const item of Object.values(doc.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const) {
      const op = (item as Record<string, Operation | undefined>)[method];
      if (!op) continue;
      // A Fastify wildcard (`objects/*`) is documented by its own named parameter (`{path}`): drop the raw `*`.
      if (op.parameters) op.parameters = op.parameters.filter((p) => (p as { name?: string }).name !== '*');
      for (const [status, response] of Object.entries(op.responses) as [string, { description?: string }][]) {
        if (!response.description) response.description = SUCCESS[status] ?? 'Success';
      }
      // Fastify reads a body sent with any POST, PUT, PATCH or DELETE (even where the route takes none): a malformed,
      // too large or non-JSON one is refused (400 InvalidRequest, 413, 415) before the route runs.
      const readsBody = op.requestBody !== undefined || ['post', 'put', 'patch', 'delete'].includes(method);
      if (op.parameters?.length || readsBody) {
        addProblem(op, '400', 'The request is invalid; `message` and `details` name what is wrong', [
          ErrorCode.ValidationFailed,
          ErrorCode.InvalidRequest,
        ]);
      }
      if ((op.parameters as { in?: string }[] | undefined)?.some((p) => p.in === 'path')) {
        addProblem(op, '414', 'A path parameter is longer than the router accepts (100 characters)', [ErrorCode.InvalidRequest]);
      }
      if (readsBody) {
        addProblem(op, '413', 'The request body is larger than the route accepts (`details.limit`)', [ErrorCode.PayloadTooLarge]);
        addProblem(op, '415', 'The request body is not `application/json`', [ErrorCode.UnsupportedMediaType]);
      }
      if (!op.security || op.security.length > 0) {
        addProblem(
          op,
          '401',
          'Missing or bad credentials: a bearer token that is malformed, expired or badly signed, or an API key that is wrong, revoked or expired',
          [ErrorCode.Unauthenticated],
        );
        // Routes a user may call can answer 403 InsufficientScope to an API key (not the storage event sender's token).
        if (!op.security?.some((s) => STORAGE_EVENTS_TOKEN_SCHEME in s))
          addProblem(op, '403', 'InsufficientScope: an API key without the scope this route needs (`details.requiredScope`)', [
            ErrorCode.InsufficientScope,
          ]);
      }
      addProblem(op, '500', 'An unexpected failure (logged with the request id)', [ErrorCode.InternalError]);
      addProblem(op, '503', 'A backing service (database, Redis, storage) is unavailable; retry after `Retry-After`', [
        ErrorCode.ServiceUnavailable,
        ErrorCode.StorageUnavailable,
      ]);
    }
  }
}

/** `{ allOf: [X] }` with nothing beside it is X (the plugin wraps enum references so; linters flag it). */
function unwrapLoneAllOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrapLoneAllOf);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === 'allOf' && Array.isArray(o.allOf) && o.allOf.length === 1) return unwrapLoneAllOf(o.allOf[0]);
    return Object.fromEntries(keys.map((k) => [k, unwrapLoneAllOf(o[k])]));
  }
  return value;
}

/** Object keys sorted at every level (arrays keep their order): the same code gives the same bytes. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** package.json's `license`: UNLICENSED, i.e. proprietary, no rights granted (npm's meaning, linked). */
const LICENSE = { name: 'UNLICENSED', url: 'https://docs.npmjs.com/cli/v11/configuring-npm/package-json#license' };

/** `servers` of the committed document (openapi.json); the running service names its PUBLIC_BASE_URL instead. */
export const DEFAULT_SERVER_URL = 'http://localhost:3000';

/** One tag per domain module (lib), in the order a reader meets them. */
export const MODULE_TAGS: { name: string; description: string }[] = [
  { name: 'upload', description: 'Uploads (libs/upload): signed upload URLs, multipart parts, completion, abort.' },
  { name: 'media', description: 'Assets (libs/assets): list, read, long-poll for ready, download, delete.' },
  { name: 'metadata', description: 'Tags on an asset (libs/metadata): key/value pairs, searchable in `GET /media?tag=`.' },
  { name: 'acl', description: 'Sharing (libs/acl): who may read, write or delete an asset.' },
  {
    name: 'processing',
    description: 'Processing (libs/processing): thumbnails and previews; stored objects, dead letters and reconciliation for operators.',
  },
  { name: 'quota', description: 'Quotas (libs/assets/quota): limits and usage per owner.' },
  { name: 'webhooks', description: 'Webhooks (libs/webhooks): endpoints that receive signed asset events, their deliveries and replays.' },
  { name: 'lifecycle', description: 'Lifecycle jobs (libs/lifecycle): run scheduled jobs now, their runs, the service clock.' },
  { name: 'cache', description: 'The hot-metadata cache (libs/asset-cache): counters for operators.' },
  { name: 'buckets', description: 'Buckets and paths (libs/buckets): buckets, their grants, addressing and listing assets by path.' },
  { name: 'api-keys', description: 'API keys (libs/api-keys): keys for back ends, acting as their creator within their scopes.' },
  {
    name: 'storage-events',
    description: 'Storage events (libs/storage-events): object-created notifications from the storage complete uploads.',
  },
  { name: 'health', description: 'Health (libs/health): liveness, readiness and storage regions, for probes and load balancers.' },
  { name: 'observability', description: 'Metrics (libs/observability): Prometheus text format.' },
];

/**
 * The OpenAPI 3 document of the app's routes: from the controllers, the DTOs (introspected by the swagger CLI
 * plugin at build time, so build with `nest build`) and the error catalogue. Deterministic: no times, keys sorted;
 * `servers` names `serverUrl` (the committed document: DEFAULT_SERVER_URL).
 */
export function createOpenApiDocument(app: INestApplication, serverUrl = DEFAULT_SERVER_URL): OpenAPIObject {
  let builder = new DocumentBuilder()
    .setTitle('media-storage')
    .setDescription(DESCRIPTION)
    .setVersion(packageVersion())
    .setLicense(LICENSE.name, LICENSE.url)
    .addServer(serverUrl, 'This service (PUBLIC_BASE_URL)');
  for (const t of MODULE_TAGS) builder = builder.addTag(t.name, t.description);
  const config = builder
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        description: 'An HS256 JWT (`sub`: user id; optional `groups`, `roles` with `admin`), or an API key (`msk_…`) as the bearer value.',
      },
      BEARER_SCHEME,
    )
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: 'X-Api-Key',
        description:
          'An API key from `POST /api-keys` (`msk_…`): acts as its creator, limited to its scopes (`read`, `write`, `admin`). ' +
          'The same key is accepted as `Authorization: Bearer msk_…`.',
      },
      API_KEY_SCHEME,
    )
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'opaque token',
        description: 'STORAGE_EVENTS_WEBHOOK_TOKEN (storage event senders such as MinIO).',
      },
      STORAGE_EVENTS_TOKEN_SCHEME,
    )
    .addSecurityRequirements(BEARER_SCHEME)
    .build();
  config.security = AUTHENTICATED;
  const doc = SwaggerModule.createDocument(app, config, {
    operationIdFactory: operationId,
    extraModels: [ProblemDto],
    autoTagControllers: false,
  });
  addStandardProblems(doc);
  return sortKeys(unwrapLoneAllOf(doc)) as OpenAPIObject;
}

/** The document as committed in openapi.json. */
export const serializeOpenApiDocument = (doc: OpenAPIObject) => `${JSON.stringify(doc, null, 2)}\n`;

/** Serves `GET /openapi.json` and Swagger UI at `/docs` (public: registered on Fastify, outside the auth guard). */
export function setupApiDocs(app: INestApplication, publicBaseUrl: string): void {
  SwaggerModule.setup('docs', app, () => createOpenApiDocument(app, publicBaseUrl), {
    jsonDocumentUrl: 'openapi.json',
    raw: ['json'],
    customSiteTitle: 'media-storage API',
  });
}
