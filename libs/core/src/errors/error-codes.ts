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
  InsufficientScope = 'InsufficientScope',
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
  ApiKeyNotFound = 'ApiKeyNotFound',
  BucketNotFound = 'BucketNotFound',
  BucketExists = 'BucketExists',
  BucketNotEmpty = 'BucketNotEmpty',
  PathTaken = 'PathTaken',
  MimeTypeNotAllowed = 'MimeTypeNotAllowed',
  QuotaBytesExceeded = 'QuotaBytesExceeded',
  QuotaAssetsExceeded = 'QuotaAssetsExceeded',
  RateLimited = 'RateLimited',
  JobAlreadyRunning = 'JobAlreadyRunning',
  TransformNotAllowed = 'TransformNotAllowed',
  NotRenderable = 'NotRenderable',
  ImageTooLarge = 'ImageTooLarge',
  RenderBusy = 'RenderBusy',
  RenderTimeout = 'RenderTimeout',
  ServiceUnavailable = 'ServiceUnavailable',
  StorageUnavailable = 'StorageUnavailable',
  InternalError = 'InternalError',
}

const STATUS: Record<ErrorCode, HttpStatus> = {
  [ErrorCode.ValidationFailed]: HttpStatus.BAD_REQUEST,
  [ErrorCode.InvalidRequest]: HttpStatus.BAD_REQUEST,
  [ErrorCode.Unauthenticated]: HttpStatus.UNAUTHORIZED,
  [ErrorCode.Forbidden]: HttpStatus.FORBIDDEN,
  [ErrorCode.InsufficientScope]: HttpStatus.FORBIDDEN,
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
  [ErrorCode.ApiKeyNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.BucketNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCode.BucketExists]: HttpStatus.CONFLICT,
  [ErrorCode.BucketNotEmpty]: HttpStatus.CONFLICT,
  [ErrorCode.PathTaken]: HttpStatus.CONFLICT,
  [ErrorCode.MimeTypeNotAllowed]: HttpStatus.BAD_REQUEST,
  [ErrorCode.QuotaBytesExceeded]: HttpStatus.PAYLOAD_TOO_LARGE,
  [ErrorCode.QuotaAssetsExceeded]: HttpStatus.TOO_MANY_REQUESTS,
  [ErrorCode.RateLimited]: HttpStatus.TOO_MANY_REQUESTS,
  [ErrorCode.JobAlreadyRunning]: HttpStatus.CONFLICT,
  [ErrorCode.TransformNotAllowed]: HttpStatus.FORBIDDEN,
  [ErrorCode.NotRenderable]: HttpStatus.UNPROCESSABLE_ENTITY,
  [ErrorCode.ImageTooLarge]: HttpStatus.UNPROCESSABLE_ENTITY,
  [ErrorCode.RenderBusy]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.RenderTimeout]: HttpStatus.SERVICE_UNAVAILABLE,
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
  unauthenticated: (message = 'A valid bearer token or API key is required') => new AppError(ErrorCode.Unauthenticated, message),
  forbidden: (message: string) => new AppError(ErrorCode.Forbidden, message),
  insufficientScope: (requiredScope: string) =>
    new AppError(ErrorCode.InsufficientScope, `This API key lacks the "${requiredScope}" scope this request needs`, { requiredScope }),
  apiKeyNotFound: (id: string) => new AppError(ErrorCode.ApiKeyNotFound, `You have no API key ${id}`),
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
  bucketNotFound: (name: string) => new AppError(ErrorCode.BucketNotFound, `Bucket "${name}" was not found`, { bucket: name }),
  bucketExists: (name: string) => new AppError(ErrorCode.BucketExists, `Bucket "${name}" already exists`, { bucket: name }),
  bucketNotEmpty: (name: string, assets: number) =>
    new AppError(ErrorCode.BucketNotEmpty, `Bucket "${name}" still holds assets; delete them first or pass ?force=true`, {
      bucket: name,
      assets,
    }),
  pathTaken: (bucket: string, path: string) =>
    new AppError(ErrorCode.PathTaken, `Path "${path}" in bucket "${bucket}" is already taken by a live asset`, { bucket, path }),
  mimeTypeNotAllowed: (bucket: string, mimeType: string, allowed: string[]) =>
    new AppError(ErrorCode.MimeTypeNotAllowed, `Bucket "${bucket}" does not accept ${mimeType}; allowed: ${allowed.join(', ')}`, {
      bucket,
      mimeType,
      allowed,
    }),
  quotaBytesExceeded: (message: string, details?: ProblemDetails) => new AppError(ErrorCode.QuotaBytesExceeded, message, details),
  quotaAssetsExceeded: (message: string, details?: ProblemDetails) => new AppError(ErrorCode.QuotaAssetsExceeded, message, details),
  jobAlreadyRunning: (name: string, details?: ProblemDetails) =>
    new AppError(
      ErrorCode.JobAlreadyRunning,
      `Lifecycle job "${name}" is running now (scheduled or manual); try again when it has finished`,
      details,
    ),
  transformNotAllowed: (message: string) => new AppError(ErrorCode.TransformNotAllowed, message),
  notRenderable: (message: string) => new AppError(ErrorCode.NotRenderable, message),
  imageTooLarge: (message: string, details?: ProblemDetails) => new AppError(ErrorCode.ImageTooLarge, message, details),
  renderBusy: (message: string, retryAfterSeconds: number) => new AppError(ErrorCode.RenderBusy, message, { retryAfterSeconds }),
  renderTimeout: (message: string) => new AppError(ErrorCode.RenderTimeout, message),
  unavailable: (message: string) => new AppError(ErrorCode.ServiceUnavailable, message),
  storageUnavailable: (message: string) => new AppError(ErrorCode.StorageUnavailable, message),
};
