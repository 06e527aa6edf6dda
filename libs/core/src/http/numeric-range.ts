import { ValidateBy, ValidationOptions } from 'class-validator';
import { Errors } from '../errors/error-codes';

/** Largest value of a PostgreSQL BIGINT (user ids, byte counts). */
export const MAX_BIGINT = 9223372036854775807n;
/** Largest value of a PostgreSQL INTEGER. */
export const MAX_INT4 = 2147483647;
/**
 * Largest integer a JSON number arrives as exactly (2^53 - 1). Body numbers that land in BIGINT columns are capped
 * here: above it JavaScript has already rounded them, and the column answers them back as numbers.
 */
export const MAX_EXACT_INTEGER = Number.MAX_SAFE_INTEGER;

const USER_ID = /^[1-9]\d{0,18}$/;

/** A user id as text (a JWT `sub`, `owner=`, `user:<id>`): a positive decimal integer that fits a BIGINT column. */
export function isUserId(value: unknown): value is string {
  return typeof value === 'string' && USER_ID.test(value) && BigInt(value) <= MAX_BIGINT;
}

/**
 * class-validator: a string of digits is at most MAX_BIGINT. Other values pass (the property's pattern or type
 * check names those), so an out-of-range id gets one message, about the range.
 */
export function FitsBigint(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'fitsBigint',
      validator: {
        validate: (v: unknown) => typeof v !== 'string' || !/^\d+$/.test(v) || BigInt(v) <= MAX_BIGINT,
        defaultMessage: (args) => `${args?.property} must be at most ${MAX_BIGINT}`,
      },
    },
    options,
  );
}

/** A user id path parameter: 400 naming the parameter unless `isUserId`. */
export function checkUserIdParam(value: string, name: string): string {
  if (!isUserId(value)) {
    throw Errors.validation(`Path parameter "${name}" must be a user id (a positive integer of at most ${MAX_BIGINT})`, { field: name });
  }
  return value;
}
