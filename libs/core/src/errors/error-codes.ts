import { HttpStatus } from '@nestjs/common';

/**
 * The one error catalogue. Every 4xx/5xx body is `{ statusCode, error, message, details? }` where
 * `error` is one of these codes; clients branch on the code, people read the message.
 */
export enum ErrorCode {
  ValidationFailed = 'ValidationFailed',
  InvalidRequest = 'InvalidRequest',
  Unauthenticated = 'Unauthenticated',
  Forbidden = 'Forbidden',
  NotFound = 'NotFound',
  AssetNotFound = 'AssetNotFound',
  AssetNotReady = 'AssetNotReady',
  AssetStateConflict = 'AssetStateConflict',
  ObjectNotUploaded = 'ObjectNotUploaded',
  PayloadTooLarge = 'PayloadTooLarge',
  UnsupportedMediaType = 'UnsupportedMediaType',
  InvalidSignature = 'InvalidSignature',
  UrlExpired = 'UrlExpired',
  UploadMismatch = 'UploadMismatch',
  ChecksumMismatch = 'ChecksumMismatch',
  RangeNotSatisfiable = 'RangeNotSatisfiable',
  ReservedMetadataKey = 'ReservedMetadataKey',
  MetadataKeyNotFound = 'MetadataKeyNotFound',
  MetadataLimitExceeded = 'MetadataLimitExceeded',
  AclEntryNotFound = 'AclEntryNotFound',
  QuotaBytesExceeded = 'QuotaBytesExceeded',
  QuotaAssetsExceeded = 'QuotaAssetsExceeded',
  RateLimited = 'RateLimited',
  JobAlreadyRunning = 'JobAlreadyRunning',
  ServiceUnavailable = 'ServiceUnavailable',
  StorageUnavailable = 'StorageUnavailable',
  InternalError = 'InternalError',
}

const STATUS: Record<ErrorCode, HttpStatus> = {
  [ErrorCode.ValidationFailed]: HttpStatus.BAD_REQUEST,
  [ErrorCode.InvalidRequest]: HttpStatus.BAD_REQUEST,
  [ErrorCode.Unauthenticated]: HttpStatus.UNAUTHORIZED,
  [ErrorCode.Forbidden]: HttpStatus.FORBIDDEN,
  [ErrorCode.NotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.AssetNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.AssetNotReady]: HttpStatus.CONFLICT,
  [ErrorCode.AssetStateConflict]: HttpStatus.CONFLICT,
  [ErrorCode.ObjectNotUploaded]: HttpStatus.CONFLICT,
  [ErrorCode.PayloadTooLarge]: HttpStatus.PAYLOAD_TOO_LARGE,
  [ErrorCode.UnsupportedMediaType]: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
  [ErrorCode.InvalidSignature]: HttpStatus.FORBIDDEN,
  [ErrorCode.UrlExpired]: HttpStatus.FORBIDDEN,
  [ErrorCode.UploadMismatch]: HttpStatus.BAD_REQUEST,
  [ErrorCode.ChecksumMismatch]: HttpStatus.BAD_REQUEST,
  [ErrorCode.RangeNotSatisfiable]: HttpStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
  [ErrorCode.ReservedMetadataKey]: HttpStatus.FORBIDDEN,
  [ErrorCode.MetadataKeyNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.MetadataLimitExceeded]: HttpStatus.CONFLICT,
  [ErrorCode.AclEntryNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.QuotaBytesExceeded]: HttpStatus.PAYLOAD_TOO_LARGE,
  [ErrorCode.QuotaAssetsExceeded]: HttpStatus.TOO_MANY_REQUESTS,
  [ErrorCode.RateLimited]: HttpStatus.TOO_MANY_REQUESTS,
  [ErrorCode.JobAlreadyRunning]: HttpStatus.CONFLICT,
  [ErrorCode.ServiceUnavailable]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.StorageUnavailable]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.InternalError]: HttpStatus.INTERNAL_SERVER_ERROR,
};

/** A field of a request that failed validation, and what is wrong with it. */
export interface FieldProblem {
  field: string;
  problems: string[];
}

/**
 * `details` of a problem body: always an object (one declared shape in the OpenAPI document, ProblemDto): `fields` on
 * ValidationFailed, otherwise the particulars the code names (`limit`, `partNumber`, `status`, `key`, …).
 */
export interface ProblemDetails {
  /** The fields that failed validation (ValidationFailed). */
  fields?: FieldProblem[];
  /** The one field at fault, when there is one. */
  field?: string;
  [particular: string]: unknown;
}

export class AppError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ProblemDetails,
  ) {
    super(message);
    this.name = 'AppError';
    this.statusCode = STATUS[code];
  }
}

/** Factories, so call sites read as what went wrong. */
export const Errors = {
  /** ValidationFailed; a list of field problems becomes `details.fields` (details stay an object). */
  validation: (message: string, details?: FieldProblem[] | ProblemDetails) =>
    new AppError(ErrorCode.ValidationFailed, message, Array.isArray(details) ? { fields: details } : details),
  invalid: (message: string, details?: ProblemDetails) => new AppError(ErrorCode.InvalidRequest, message, details),
  unauthenticated: (message = 'A valid bearer token is required') => new AppError(ErrorCode.Unauthenticated, message),
  forbidden: (message: string) => new AppError(ErrorCode.Forbidden, message),
  notFound: (message = 'Not found') => new AppError(ErrorCode.NotFound, message),
  assetNotFound: (id: string) => new AppError(ErrorCode.AssetNotFound, `Asset ${id} was not found`),
  assetNotReady: (id: string, status: string) => new AppError(ErrorCode.AssetNotReady, `Asset ${id} is ${status}, not ready`, { status }),
  stateConflict: (message: string, details?: ProblemDetails) => new AppError(ErrorCode.AssetStateConflict, message, details),
  objectNotUploaded: (id: string) =>
    new AppError(ErrorCode.ObjectNotUploaded, `No object has been uploaded for asset ${id} yet; PUT the bytes to uploadUrl first`),
  payloadTooLarge: (message: string, details?: ProblemDetails) => new AppError(ErrorCode.PayloadTooLarge, message, details),
  unsupportedMediaType: (message: string) => new AppError(ErrorCode.UnsupportedMediaType, message),
  invalidSignature: (message = 'The URL signature does not match') => new AppError(ErrorCode.InvalidSignature, message),
  urlExpired: () => new AppError(ErrorCode.UrlExpired, 'The signed URL has expired'),
  uploadMismatch: (message: string, details?: ProblemDetails) => new AppError(ErrorCode.UploadMismatch, message, details),
  checksumMismatch: (message: string, details?: ProblemDetails) => new AppError(ErrorCode.ChecksumMismatch, message, details),
  rangeNotSatisfiable: (size: number) =>
    new AppError(ErrorCode.RangeNotSatisfiable, `Requested range is not satisfiable for an object of ${size} bytes`, { size }),
  reservedMetadataKey: (key: string, namespace: string) =>
    new AppError(
      ErrorCode.ReservedMetadataKey,
      `Metadata key "${key}" is in the reserved namespace "${namespace}", which only processing writes`,
      {
        key,
        namespace,
      },
    ),
  metadataKeyNotFound: (assetId: string, key: string) =>
    new AppError(ErrorCode.MetadataKeyNotFound, `Asset ${assetId} has no metadata key "${key}"`, { key }),
  metadataLimitExceeded: (message: string, details?: ProblemDetails) => new AppError(ErrorCode.MetadataLimitExceeded, message, details),
  aclEntryNotFound: (assetId: string, principal: string, permission: string) =>
    new AppError(ErrorCode.AclEntryNotFound, `Asset ${assetId} has no "${permission}" grant for ${principal}`, { principal, permission }),
  quotaBytesExceeded: (message: string, details?: ProblemDetails) => new AppError(ErrorCode.QuotaBytesExceeded, message, details),
  quotaAssetsExceeded: (message: string, details?: ProblemDetails) => new AppError(ErrorCode.QuotaAssetsExceeded, message, details),
  jobAlreadyRunning: (name: string, details?: ProblemDetails) =>
    new AppError(
      ErrorCode.JobAlreadyRunning,
      `Lifecycle job "${name}" is running now (scheduled or manual); try again when it has finished`,
      details,
    ),
  unavailable: (message: string) => new AppError(ErrorCode.ServiceUnavailable, message),
  storageUnavailable: (message: string) => new AppError(ErrorCode.StorageUnavailable, message),
};
