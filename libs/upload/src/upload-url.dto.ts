import { ApiProperty } from '@nestjs/swagger';
import { AssetStatus } from '@app/assets';
import type { UploadUrlResponse } from './upload-url.service';

/** Where to send the bytes (POST /media/upload-url). */
export class UploadUrlDto implements UploadUrlResponse {
  /** The new asset's id (status `pending`). */
  assetId: string;
  /** `PUT` the bytes with `headers`, or `POST` a form with `fields` then the file as field `file`. */
  @ApiProperty({ enum: ['PUT', 'POST'] })
  method: 'PUT' | 'POST';
  /** The signed URL (short-lived; single-use with the local driver). */
  uploadUrl: string;
  /** For PUT: send exactly these headers. */
  headers?: Record<string, string>;
  /** For POST: send these form fields, then the file as field "file". */
  fields?: Record<string, string>;
  expiresAt: string;
}

/** POST /media/{id}/complete */
export class CompleteUploadDto {
  assetId: string;
  @ApiProperty({ enum: AssetStatus, enumName: 'AssetStatus' })
  status: AssetStatus;
}
