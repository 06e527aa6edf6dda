import type { components } from './generated/openapi';

/** The service's problem body: `{ statusCode, error, message, details? }`. */
export type Problem = components['schemas']['ProblemDto'];

/**
 * Codes the SDK itself raises (no HTTP answer to carry one, or an answer that is not the service's):
 * `NetworkError` (no answer after the retries), `Timeout`, `StorageRejected` (the signed URL's store refused the
 * bytes), `ChecksumMismatch` (bytes differ from what was sent or stored), `SizeMismatch` (a source gave more or fewer bytes than its size), `AssetFailed` (processing failed or
 * quarantined it), `UnsupportedUpload` (an upload kind this SDK version cannot perform), `Aborted`.
 */
export type SdkErrorCode =
  | 'NetworkError'
  | 'SizeMismatch'
  | 'Timeout'
  | 'StorageRejected'
  | 'ChecksumMismatch'
  | 'AssetFailed'
  /** A multipart upload's assembly failed (a part storage lacks or holds with another ETag): fix and complete again. */
  | 'AssemblyFailed'
  | 'UnsupportedUpload'
  | 'Aborted';

/** Every failure of the SDK: the problem body the service answered, or one the SDK made up (statusCode 0 when there was no HTTP answer). */
export class MediaApiError extends Error {
  // eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- names the known codes; others may come
  readonly problem: { statusCode: number; error: Problem['error'] | SdkErrorCode | string; message: string; details?: unknown };

  constructor(problem: MediaApiError['problem'], options?: { cause?: unknown }) {
    super(problem.message, options);
    this.name = 'MediaApiError';
    this.problem = problem;
  }

  /** HTTP status (0 when no answer came). */
  get status(): number {
    return this.problem.statusCode;
  }

  /** The catalogue code (`AssetNotFound`, `ValidationFailed`, …) or an SdkErrorCode. */
  get code(): string {
    return this.problem.error;
  }

  /** From an HTTP answer: the problem body when it is one, else a summary of what came. */
  static fromResponse(status: number, body: unknown, fallback?: string): MediaApiError {
    const b = body as Partial<Problem> | undefined;
    if (b && typeof b === 'object' && typeof b.error === 'string' && typeof b.message === 'string') {
      return new MediaApiError({
        statusCode: status,
        error: b.error,
        message: b.message,
        ...(b.details !== undefined ? { details: b.details } : {}),
      });
    }
    const text = typeof body === 'string' ? body.trim().slice(0, 300) : '';
    return new MediaApiError({ statusCode: status, error: `Http${status}`, message: fallback ?? (text || `HTTP ${status}`) });
  }

  static sdk(error: SdkErrorCode, message: string, extra: { statusCode?: number; details?: unknown; cause?: unknown } = {}): MediaApiError {
    return new MediaApiError(
      { statusCode: extra.statusCode ?? 0, error, message, ...(extra.details !== undefined ? { details: extra.details } : {}) },
      { cause: extra.cause },
    );
  }
}
