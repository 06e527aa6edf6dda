import { ApiProperty } from '@nestjs/swagger';
import { ErrorCode } from '../errors/error-codes';

/** The one error body of every 4xx/5xx answer (see error-codes.ts). */
export class ProblemDto {
  /** The HTTP status, repeated in the body. */
  statusCode: number;

  /** A stable code from the error catalogue: clients branch on it. */
  @ApiProperty({ enum: ErrorCode, enumName: 'ErrorCode', example: ErrorCode.ValidationFailed })
  error: ErrorCode;

  /** What went wrong, for people. */
  message: string;

  /** Machine-readable particulars (e.g. the fields that failed validation, a limit); shape depends on `error`. */
  @ApiProperty({ required: false, description: 'Machine-readable particulars; shape depends on `error`.' })
  details?: unknown;
}
