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
  '',
  'Authenticate with a bearer JWT (people, short-lived) or an API key (back ends; `POST /api-keys`), sent as',
  '`X-Api-Key: msk_…` or as `Authorization: Bearer msk_…`. A key acts as the user who created it, limited to its',
  'scopes: `read` (GET routes), `write` (uploads, metadata, ACL, deletions and other changes), `admin` (admin routes);',
  'a request outside them answers 403 `InsufficientScope` with `details.requiredScope`.',
].join('\n');

type Operation = {
  parameters?: unknown[];
  requestBody?: unknown;
  security?: Record<string, string[]>[];
  responses: Record<string, unknown>;
};

const problem = (description: string, codes: ErrorCode[]) => ({
  description,
  content: {
    'application/json': {
      schema: { allOf: [{ $ref: getSchemaPath(ProblemDto) }, { type: 'object', properties: { error: { type: 'string', enum: codes } } }] },
    },
  },
});

const SUCCESS: Record<string, string> = { '200': 'OK', '201': 'Created', '202': 'Accepted', '204': 'No content' };

/** Operation ids read as what they do: AssetsController.list → assetsList. */
const operationId = (controllerKey: string, methodKey: string) => {
  const c = controllerKey.replace(/Controller$/, '');
  return `${c[0].toLowerCase()}${c.slice(1)}${methodKey[0].toUpperCase()}${methodKey.slice(1)}`;
};

/** Errors every route can answer, added where the route does not document them itself. */
function addStandardProblems(doc: OpenAPIObject): void {
  for (const item of Object.values(doc.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const) {
      const op = (item as Record<string, Operation | undefined>)[method];
      if (!op) continue;
      const add = (status: string, value: unknown) => (op.responses[status] ??= value);
      for (const [status, response] of Object.entries(op.responses) as [string, { description?: string }][]) {
        if (!response.description) response.description = SUCCESS[status] ?? 'Success';
      }
      if (op.parameters?.length || op.requestBody) {
        add(
          '400',
          problem('The request is invalid; `message` and `details` name what is wrong', [
            ErrorCode.ValidationFailed,
            ErrorCode.InvalidRequest,
          ]),
        );
      }
      if (!op.security || op.security.length > 0) {
        add(
          '401',
          problem(
            'Missing or bad credentials: a bearer token that is malformed, expired or badly signed, or an API key that is wrong, revoked or expired',
            [ErrorCode.Unauthenticated],
          ),
        );
        addScopeProblem(op);
      }
      add('500', problem('An unexpected failure (logged with the request id)', [ErrorCode.InternalError]));
      add(
        '503',
        problem('A backing service (database, Redis, storage) is unavailable; retry after `Retry-After`', [
          ErrorCode.ServiceUnavailable,
          ErrorCode.StorageUnavailable,
        ]),
      );
    }
  }
}

type ProblemResponse = {
  description: string;
  content?: { 'application/json'?: { schema?: { allOf?: [unknown, { properties?: { error?: { enum?: string[] } } }] } } };
};

/** Every authenticated route can answer 403 InsufficientScope to an API key: added, or merged into the route's own 403. */
function addScopeProblem(op: Operation): void {
  const scopeText = 'an API key without the scope this route needs (`details.requiredScope`)';
  const existing = op.responses['403'] as ProblemResponse | undefined;
  if (!existing) {
    op.responses['403'] = problem(`InsufficientScope: ${scopeText}`, [ErrorCode.InsufficientScope]);
    return;
  }
  const codes = existing.content?.['application/json']?.schema?.allOf?.[1]?.properties?.error?.enum;
  if (!codes || codes.includes(ErrorCode.InsufficientScope)) return;
  codes.push(ErrorCode.InsufficientScope);
  existing.description = `${existing.description}; or InsufficientScope: ${scopeText}`;
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

/**
 * The OpenAPI 3 document of the app's routes: from the controllers, the DTOs (introspected by the swagger CLI
 * plugin at build time, so build with `nest build`) and the error catalogue. Deterministic: no hosts or times,
 * keys sorted.
 */
export function createOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('media-storage')
    .setDescription(DESCRIPTION)
    .setVersion(packageVersion())
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
  const doc = SwaggerModule.createDocument(app, config, { operationIdFactory: operationId, extraModels: [ProblemDto] });
  addStandardProblems(doc);
  return sortKeys(doc) as OpenAPIObject;
}

/** The document as committed in openapi.json. */
export const serializeOpenApiDocument = (doc: OpenAPIObject) => `${JSON.stringify(doc, null, 2)}\n`;

/** Serves `GET /openapi.json` and Swagger UI at `/docs` (public: registered on Fastify, outside the auth guard). */
export function setupApiDocs(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => createOpenApiDocument(app), {
    jsonDocumentUrl: 'openapi.json',
    raw: ['json'],
    customSiteTitle: 'media-storage API',
  });
}
