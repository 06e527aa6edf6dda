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
 */
export function ApiProblem(status: number, description: string, codes: ErrorCode[] = []): MethodDecorator & ClassDecorator {
  return applyDecorators(ApiExtraModels(ProblemDto), ApiResponse(problemResponse(status, description, codes)));
}

/**
 * Like ApiProblem, for the generic answers of shared decorators (access, admin, rate limit): it never replaces
 * what the route documents for the same status itself, whichever decorator runs first.
 */
export function ApiDefaultProblem(status: number, description: string, codes: ErrorCode[] = []): MethodDecorator & ClassDecorator {
  const documented = ApiProblem(status, description, codes) as ClassOrMethodDecorator;
  const decorator: ClassOrMethodDecorator = (target, key, descriptor) => {
    const existing = Reflect.getMetadata(DECORATORS.API_RESPONSE, descriptor ? (descriptor.value as object) : target) as
      Record<string, unknown> | undefined;
    if (existing?.[String(status)]) return descriptor;
    return documented(target, key, descriptor);
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
