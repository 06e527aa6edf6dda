import { ParseUUIDPipe } from '@nestjs/common';
import { Errors } from '../errors/error-codes';

/** `:id` path parameters are UUIDs; anything else is a 400 naming the parameter. */
export const AssetIdPipe = new ParseUUIDPipe({
  exceptionFactory: () => Errors.validation('Path parameter "id" must be a UUID', { field: 'id' }),
});
