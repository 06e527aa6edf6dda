import { ApiProperty } from '@nestjs/swagger';
import { ErrorCode } from '../errors/error-codes';

/** One field of a request that failed validation (`details.fields[]` of a `ValidationFailed` answer). */
export class FieldProblemDto {
  /** The field, dotted for nested ones (`parts.0.etag`). */
  field: string;

  /** What is wrong with it, for people. */
  problems: string[];
}

/**
 * `details` of a problem body: always an object. `fields` on `ValidationFailed`; other codes carry the particulars
 * they name (e.g. `limit`, `partNumber`, `status`, `key`) as further members.
 */
export class ProblemDetailsDto {
  /** The fields that failed validation (`ValidationFailed`). */
  fields?: FieldProblemDto[];

  /** The one field at fault, when there is one. */
  field?: string;
}

/** The one error body of every 4xx/5xx answer (see error-codes.ts). */
export class ProblemDto {
  /** The HTTP status, repeated in the body. */
  @ApiProperty({ type: 'integer', example: 400 })
  statusCode: number;

  /** A stable code from the error catalogue: clients branch on it. */
  @ApiProperty({ enum: ErrorCode, enumName: 'ErrorCode', example: ErrorCode.ValidationFailed })
  error: ErrorCode;

  /** What went wrong, for people. */
  message: string;

  /** Machine-readable particulars, always an object: `fields` on ValidationFailed, else what the code names. */
  details?: ProblemDetailsDto;
}
