import { ArgumentMetadata, ValidationError, ValidationPipe, ValidationPipeOptions } from '@nestjs/common';
import { AppError, bodyFastPathOf, Errors } from '@app/core';

function flattenValidationErrors(errors: ValidationError[], parent = ''): { field: string; problems: string[] }[] {
  return errors.flatMap((e) => {
    const field = parent ? `${parent}.${e.property}` : e.property;
    const own = e.constraints ? [{ field, problems: Object.values(e.constraints) }] : [];
    return [...own, ...flattenValidationErrors(e.children ?? [], field)];
  });
}

export const validationOptions: ValidationPipeOptions = {
  transform: true,
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  stopAtFirstError: false,
  exceptionFactory: (errors) => {
    const details = flattenValidationErrors(errors);
    const message = details.map((d) => d.problems.join('; ')).join('; ') || 'Request body is invalid';
    return Errors.validation(message, details);
  },
};

/**
 * class-validator on every DTO. A missing body (none sent, or an empty one with a JSON Content-Type: see
 * jsonBodyParser) is validated as `{}`: a route whose fields are all optional takes it; a route that needs some
 * answers 400 saying that the body is missing, with the fields it needs.
 */
class RequestValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    // A body the DTO's own fast path proves valid (see BODY_FAST_PATH); anything else, class-validator as always.
    if (metadata.type === 'body' && metadata.data === undefined) {
      const fast = bodyFastPathOf(metadata.metatype)?.(value);
      if (fast !== undefined) return fast;
    }
    if (metadata.type !== 'body' || metadata.data !== undefined || (value !== undefined && value !== null))
      return super.transform(value, metadata);
    try {
      return await super.transform({}, metadata);
    } catch (e) {
      const fields = e instanceof AppError ? (e.details?.fields ?? []) : [];
      const needed = fields.map((f) => f.field).join(', ');
      throw Errors.validation(`The request body is missing: this route needs a JSON body${needed ? ` with ${needed}` : ''}`, [
        { field: 'body', problems: ['is required'] },
        ...fields,
      ]);
    }
  }
}

export const validationPipe = new RequestValidationPipe(validationOptions);
