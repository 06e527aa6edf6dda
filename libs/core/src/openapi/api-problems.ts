import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, DECORATORS, getSchemaPath } from '@nestjs/swagger';
import { ErrorCode } from '../errors/error-codes';
import { ProblemDto } from './problem.dto';

/** The name of the bearer security scheme in the OpenAPI document (a JWT, or an API key as the bearer value). */
export const BEARER_SCHEME = 'bearer';
/** The name of the API-key security scheme (header `X-Api-Key`). */
export const API_KEY_SCHEME = 'apiKey';
/** Either scheme authenticates a route (OpenAPI: alternatives are separate requirement objects). */
export const AUTHENTICATED: Record<string, string[]>[] = [{ [BEARER_SCHEME]: [] }, { [API_KEY_SCHEME]: [] }];

/**
 * Documents error answers of a route (or of every route of a controller): each is the problem body, with the
 * catalogue codes it can carry. Routes get 400/401/500/503 and the access errors automatically (see
 * OpenApiDocumentFactory); name here only what a route adds, e.g. `@ApiProblem(409, 'ObjectNotUploaded: no bytes yet')`.
 * Codes documented for the same status by another decorator (shared access, admin or rate-limit decorators) are kept:
 * the route's enum is the union, and this description wins.
 */
export function ApiProblem(status: number, description: string, codes: ErrorCode[] = []): MethodDecorator & ClassDecorator {
  return problemDecorator(status, description, codes, true);
}

/**
 * Like ApiProblem, for the generic answers of shared decorators (access, admin, rate limit): its codes join what the
 * route documents for the same status, whose description it never replaces, whichever decorator runs first.
 */
export function ApiDefaultProblem(status: number, description: string, codes: ErrorCode[] = []): MethodDecorator & ClassDecorator {
  return problemDecorator(status, description, codes, false);
}

type DocumentedResponse = { description?: string; schema?: { allOf?: { properties?: { error?: { enum?: ErrorCode[] } } }[] } };

function problemDecorator(status: number, description: string, codes: ErrorCode[], own: boolean): MethodDecorator & ClassDecorator {
  const decorator: ClassOrMethodDecorator = (target, key, descriptor) => {
    const holder = descriptor ? (descriptor.value as object) : target;
    const responses = Reflect.getMetadata(DECORATORS.API_RESPONSE, holder) as Record<string, DocumentedResponse> | undefined;
    const existing = responses?.[String(status)];
    if (existing) {
      // Replaced by the merged entry below (ApiResponse itself would join the two descriptions).
      const { [String(status)]: _replaced, ...others } = responses;
      Reflect.defineMetadata(DECORATORS.API_RESPONSE, others, holder);
    }
    let merged = codes;
    if (existing) {
      const before = existing.schema?.allOf?.[1]?.properties?.error?.enum;
      // An answer documented without codes may carry any code: it stays that way.
      merged = before && codes.length ? [...new Set([...before, ...codes])] : [];
    }
    const text = existing && !own ? (existing.description ?? description) : description;
    const apply = applyDecorators(ApiExtraModels(ProblemDto), ApiResponse(problemResponse(status, text, merged)));
    return apply(target, key, descriptor);
  };
  return decorator as MethodDecorator & ClassDecorator;
}

/** MethodDecorator & ClassDecorator as one call signature (what a decorator for both is called with). */
type ClassOrMethodDecorator = (target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => unknown;

function problemResponse(status: number, description: string, codes: ErrorCode[]) {
  return {
    status,
    description,
    schema: codes.length
      ? {
          allOf: [
            { $ref: getSchemaPath(ProblemDto) },
            { type: 'object' as const, properties: { error: { type: 'string' as const, enum: codes } } },
          ],
        }
      : { $ref: getSchemaPath(ProblemDto) },
  };
}

/** OpenAPI: the route needs no token (overrides the document-wide bearer requirement). */
export const ApiNoAuth = (): MethodDecorator & ClassDecorator => setSecurity([]);

/** OpenAPI: the route serves anonymous callers too (a token or API key is optional). */
export const ApiOptionalAuth = (): MethodDecorator & ClassDecorator => setSecurity([...AUTHENTICATED, {}]);

function setSecurity(requirements: Record<string, string[]>[]): MethodDecorator & ClassDecorator {
  const decorator: ClassOrMethodDecorator = (target, _key, descriptor) => {
    Reflect.defineMetadata(DECORATORS.API_SECURITY, requirements, descriptor ? (descriptor.value as object) : target);
    return descriptor;
  };
  return decorator as MethodDecorator & ClassDecorator;
}
