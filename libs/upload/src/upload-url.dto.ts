import { ApiProperty } from '@nestjs/swagger';
import { AssetStatus, UploadAssemblyDto } from '@app/assets';

export { UploadAssemblyDto };

/** Where to send the bytes (POST /media/upload-url). */
export class UploadUrlDto {
  /** The new asset's id (status `pending`). */
  assetId: string;
  /** `PUT` the bytes with `headers`, or `POST` a form with `fields` then the file as field `file`. */
  @ApiProperty({ enum: ['PUT', 'POST'] })
  method: 'PUT' | 'POST';
  /** The signed URL (short-lived; single-use with the local driver). */
  uploadUrl: string;
  /**
   * For PUT: set exactly these headers (e.g. Content-Type, x-amz-checksum-sha256), with a body of exactly `sizeBytes`
   * bytes. Content-Length is not listed: the client's HTTP stack sends it (browsers refuse to let a script set it;
   * server-side clients must send it too, never a chunked body), and the signature binds the size.
   */
  headers?: Record<string, string>;
  /** For POST: send these form fields, then the file as field "file". */
  fields?: Record<string, string>;
  expiresAt: string;
}

/** POST /media/{id}/complete */
export class CompleteUploadResultDto {
  assetId: string;
  /** The asset's status: `pending` while a multipart upload is assembled, then `processing` and on. */
  @ApiProperty({ enum: AssetStatus, enumName: 'AssetStatus' })
  status: AssetStatus;
  /**
   * Multipart uploads: where the assembly stands (`assembling` right after the first complete). Follow it with
   * GET /media/{id} (its `upload`, and `?waitFor=ready`, which also returns when assembly `failed`). Absent for
   * single uploads.
   */
  upload?: UploadAssemblyDto;
}

/**
 * One signed part URL of a multipart upload: PUT exactly `size` bytes (with a Content-Length, which the client's HTTP
 * stack sets) to `url` with exactly `headers`; keep the ETag answered.
 */
export class SignedPartDto {
  partNumber: number;
  url: string;
  @ApiProperty({ enum: ['PUT'] })
  method: 'PUT';
  /** Headers to set exactly as given (often none: the part's size is bound by the signature). */
  headers: Record<string, string>;
  /** Exact size of this part in bytes. */
  size: number;
  expiresAt: string;
}

/**
 * A multipart session (POST /media/upload-url above MULTIPART_THRESHOLD_BYTES, or with `multipart: true`): PUT each
 * part to its URL (sign more with POST /media/{id}/parts), then POST /media/{id}/complete with the part ETags.
 */
export class MultipartUploadDto {
  /** The new asset's id (status `pending`). */
  assetId: string;
  @ApiProperty({ enum: ['MULTIPART'] })
  method: 'MULTIPART';
  uploadId: string;
  /** Every part but the last has exactly this many bytes. */
  partSize: number;
  partCount: number;
  /** Signed URLs for the first parts. */
  parts: SignedPartDto[];
  /** When the session (and the pending asset) expires. */
  expiresAt: string;
}

/** POST /media/{id}/parts */
export class SignedPartsDto {
  assetId: string;
  parts: SignedPartDto[];
}

/** A part storage holds. */
export class UploadedPartDto {
  partNumber: number;
  /** Quoted, as storage answered it; send it back at complete. */
  etag: string;
  size: number;
}

/** GET /media/{id}/parts: what is stored so far (to resume). */
export class PartListDto {
  assetId: string;
  uploadId: string;
  partSize: number;
  partCount: number;
  /** The parts storage holds (none once the object is assembled). */
  parts: UploadedPartDto[];
  /** Where the upload stands: `receiving`, `assembling` after complete, `failed` (with `error`) when complete must be repeated. */
  upload: UploadAssemblyDto;
}
