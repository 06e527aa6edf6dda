import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, DECORATORS, getSchemaPath } from '@nestjs/swagger';
import { ErrorCode } from '../errors/error-codes';
import { ProblemDto } from './problem.dto';

/** The name of the bearer-JWT security scheme in the OpenAPI document. */
export const BEARER_SCHEME = 'bearer';

/**
 * Documents error answers of a route (or of every route of a controller): each is the problem body, with the
 * catalogue codes it can carry. Routes get 400/401/500/503 and the access errors automatically (see
 * OpenApiDocumentFactory); name here only what a route adds, e.g. `@ApiProblem(409, 'ObjectNotUploaded: no bytes yet')`.
 */
export function ApiProblem(status: number, description: string, codes: ErrorCode[] = []): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiExtraModels(ProblemDto),
    ApiResponse({
      status,
      description,
      content: {
        'application/json': {
          schema: codes.length
            ? { allOf: [{ $ref: getSchemaPath(ProblemDto) }, { type: 'object', properties: { error: { type: 'string', enum: codes } } }] }
            : { $ref: getSchemaPath(ProblemDto) },
        },
      },
    }),
  );
}

/** OpenAPI: the route needs no token (overrides the document-wide bearer requirement). */
export const ApiNoAuth = (): MethodDecorator & ClassDecorator => setSecurity([]);

/** OpenAPI: the route serves anonymous callers too (a token is optional). */
export const ApiOptionalAuth = (): MethodDecorator & ClassDecorator => setSecurity([{ [BEARER_SCHEME]: [] }, {}]);

function setSecurity(requirements: Record<string, string[]>[]): MethodDecorator & ClassDecorator {
  return (target: object, _key?: string | symbol, descriptor?: PropertyDescriptor) => {
    Reflect.defineMetadata(DECORATORS.API_SECURITY, requirements, descriptor ? descriptor.value : target);
    return descriptor as any;
  };
}
