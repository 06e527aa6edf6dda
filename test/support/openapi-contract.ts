/**
 * Checks an HTTP answer of the service against the committed OpenAPI document (openapi.json): the status is one the
 * operation declares, the Content-Type is one declared for that status (and an answer declared without content has
 * no body), and a JSON body validates against the declared schema (ajv, with the document's components).
 * Used by the e2e suite's fetch wrapper (contract-setup.ts) on every answer of an app started by startApp.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/**
 * Routes of the service that are not part of the API document, each with the reason. A request to an app's origin
 * that matches no operation of the document and none of these is a drift (unless the router answered 404: the route
 * does not exist, which a test may check on purpose).
 */
export const OUT_OF_SCOPE: { pattern: RegExp; why: string }[] = [
  { pattern: /^\/storage(\/|$)/, why: "the local driver's signed object URLs (bytes; S3's own protocol shape)" },
  { pattern: /^\/tus(\/|$)/, why: 'the tus 1.0 resumable-upload protocol (specified by tus.io, not by this document)' },
  { pattern: /^\/(docs|openapi\.json)(\/|$)/, why: 'the document itself and Swagger UI' },
  { pattern: /^\/admin\/queues(\/|$)/, why: 'Bull Board, the queue dashboard for operators' },
  { pattern: /^\/(assets\/[^/]+)?$/, why: 'the browser upload page and its static files' },
];

export interface ResponseFacts {
  method: string;
  /** Path of the URL, without the query. */
  path: string;
  status: number;
  /** The Content-Type header, if any. */
  contentType: string | null;
  /** The body as text; undefined when it was not read (not JSON, or a HEAD answer). */
  body?: string;
  /** Content-Length, if the answer sent one. */
  contentLength?: string | null;
}

export interface Verdict {
  /** `METHOD /template (operationId)`, or the path when no operation matched. */
  operation: string;
  /** What does not match the document; empty when the answer is true to it. */
  problems: string[];
}

type MediaType = { schema?: object };
type Response = { content?: Record<string, MediaType> };
type Operation = { operationId?: string; responses: Record<string, Response> };
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head'];
const DOC_ID = 'https://media-storage.test/openapi.json';

export const DEFAULT_DOCUMENT = path.resolve(__dirname, '../../openapi.json');

/** The base type of a Content-Type header, lower case: `application/json; charset=utf-8` → `application/json`. */
const baseType = (ct: string | null) => (ct ?? '').split(';')[0].trim().toLowerCase();

/** Does a declared media range (`image/*`, `*\/*`, `application/json`) cover the actual type? */
function covers(range: string, actual: string): boolean {
  if (range === '*/*') return true;
  const [type, sub] = range.toLowerCase().split('/');
  const [atype, asub] = actual.split('/');
  return type === atype && (sub === '*' || sub === asub);
}

const isJson = (type: string) => type === 'application/json' || type.endsWith('+json');

export class OpenApiContract {
  private readonly ajv: Ajv;
  private readonly routes: { template: string; regex: RegExp; literals: number; item: Record<string, Operation> }[];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(readonly doc: { paths: Record<string, Record<string, Operation>>; components?: object }) {
    this.ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: DOC_ID, components: doc.components ?? {} });
    this.routes = Object.entries(doc.paths)
      .map(([template, item]) => {
        const segments = template.split('/').filter(Boolean);
        // A final `{path}` is an object path in a bucket (GET /buckets/{bucket}/objects/{path}): it may hold `/`.
        const regex = new RegExp(
          `^/${segments
            .map((s, i) =>
              s === '{path}' && i === segments.length - 1 ? '.+' : /^\{\w+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
            )
            .join('/')}$`,
        );
        return { template, regex, literals: segments.filter((s) => !s.startsWith('{')).length, item };
      })
      // Literal segments win over parameters: /media/upload-url before /media/{id}.
      .sort((a, b) => b.literals - a.literals);
  }

  static fromFile(file = DEFAULT_DOCUMENT): OpenApiContract {
    return new OpenApiContract(JSON.parse(readFileSync(file, 'utf8')));
  }

  /** The reason a path is outside the document, if it is. */
  outOfScope(urlPath: string): string | undefined {
    return OUT_OF_SCOPE.find((o) => o.pattern.test(urlPath))?.why;
  }

  /** The operation a request addresses (HEAD is answered by the GET route), or undefined. */
  operation(method: string, urlPath: string): { key: string; op: Operation } | undefined {
    const m = method.toLowerCase() === 'head' ? 'get' : method.toLowerCase();
    if (!METHODS.includes(m)) return undefined;
    for (const r of this.routes) {
      if (r.regex.test(urlPath) && r.item[m]) return { key: `${m.toUpperCase()} ${r.template}`, op: r.item[m] };
    }
    return undefined;
  }

  check(res: ResponseFacts): Verdict {
    const method = res.method.toUpperCase();
    const found = this.operation(method, res.path);
    if (!found) {
      if (method === 'OPTIONS' || this.outOfScope(res.path) !== undefined) return { operation: `${method} ${res.path}`, problems: [] };
      // A request that addresses no operation may only be refused (4xx: no such route, or a malformed request, URL or
      // body refused before routing), and a JSON refusal is the problem body. Anything else is a route the document
      // does not describe.
      const problems =
        res.status >= 400 && res.status < 500
          ? this.problemBodyProblems(res)
          : [
              `${method} ${res.path} answered ${res.status} but no operation of openapi.json matches it, and it is not in the ` +
                'out-of-scope list (test/support/openapi-contract.ts OUT_OF_SCOPE)',
            ];
      return { operation: `${method} ${res.path}`, problems };
    }
    const operation = `${found.key} (${found.op.operationId ?? 'no operationId'})`;
    const problems: string[] = [];
    const status = String(res.status);
    const declared = found.op.responses[status] ?? found.op.responses[`${status[0]}XX`] ?? found.op.responses.default ?? undefined;
    if (!declared) {
      problems.push(`status ${status} is not declared (declared: ${Object.keys(found.op.responses).join(', ')})`);
      return { operation, problems };
    }
    const type = baseType(res.contentType);
    const content = declared.content ?? {};
    const ranges = Object.keys(content);
    const hasBody = (res.body !== undefined && res.body.length > 0) || (res.contentLength != null && res.contentLength !== '0');
    if (!ranges.length) {
      if (hasBody)
        problems.push(`status ${status} declares no body, but the answer has one (${type || 'no Content-Type'}): ${preview(res.body)}`);
      return { operation, problems };
    }
    if (!hasBody && (method === 'HEAD' || res.status === 304)) return { operation, problems };
    const range = ranges.find((r) => type && covers(r, type));
    if (!range) {
      problems.push(`status ${status} declares content types ${ranges.join(', ')}, but the answer is ${type || 'without Content-Type'}`);
      return { operation, problems };
    }
    const schema = content[range].schema;
    if (!schema || !isJson(type) || res.body === undefined) return { operation, problems };
    let value: unknown;
    try {
      value = JSON.parse(res.body);
    } catch {
      problems.push(`status ${status} declares ${range}, but the body is not JSON: ${preview(res.body)}`);
      return { operation, problems };
    }
    const validate = this.validator(`${found.key} ${status} ${range}`, schema);
    if (!validate(value)) {
      const errors = (validate.errors ?? []).map((e) => `${e.instancePath || '(body)'} ${e.message ?? ''}${paramsOf(e.params)}`);
      problems.push(`status ${status} body does not match its schema: ${errors.join('; ')} — body: ${preview(res.body)}`);
    }
    return { operation, problems };
  }

  /** A refusal outside any operation: when it is JSON, it is a ProblemDto. */
  private problemBodyProblems(res: ResponseFacts): string[] {
    if (res.body === undefined || !isJson(baseType(res.contentType))) return [];
    let value: unknown;
    try {
      value = JSON.parse(res.body);
    } catch {
      return [`the ${res.status} answer is not JSON: ${preview(res.body)}`];
    }
    const validate = this.validator('ProblemDto', { $ref: '#/components/schemas/ProblemDto' });
    if (validate(value)) return [];
    const errors = (validate.errors ?? []).map((e) => `${e.instancePath || '(body)'} ${e.message ?? ''}${paramsOf(e.params)}`);
    return [`the ${res.status} answer is not a ProblemDto: ${errors.join('; ')} — body: ${preview(res.body)}`];
  }

  private validator(key: string, schema: object): ValidateFunction {
    let v = this.validators.get(key);
    if (!v) {
      // The document's `#/components/...` references, resolved against the document registered above.
      const rebased = JSON.parse(JSON.stringify(schema).replace(/"#\/components\//g, `"${DOC_ID}#/components/`)) as object;
      v = this.ajv.compile(rebased);
      this.validators.set(key, v);
    }
    return v;
  }
}

function paramsOf(params: Record<string, unknown>): string {
  const interesting = Object.entries(params).filter(([k]) =>
    ['allowedValues', 'additionalProperty', 'missingProperty', 'type'].includes(k),
  );
  return interesting.length ? ` (${interesting.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')})` : '';
}

const preview = (body: string | undefined) => (body === undefined ? '(not read)' : body.length > 300 ? `${body.slice(0, 300)}…` : body);
