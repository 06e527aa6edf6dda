import { ApiResponseOptions, getSchemaPath } from '@nestjs/swagger';
import { DownloadLinkDto } from './asset-view.dto';

/**
 * OpenAPI: the 302 of the download-style routes (/download, /thumbnail, /preview). The signed URL is in `Location`,
 * and the JSON body carries the same link (for clients that do not follow redirects).
 */
export const redirectResponse = (description: string): ApiResponseOptions => ({
  status: 302,
  description,
  headers: { Location: { description: 'The signed URL', schema: { type: 'string', format: 'uri' } } },
  content: { 'application/json': { schema: { $ref: getSchemaPath(DownloadLinkDto) } } },
});
