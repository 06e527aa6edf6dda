import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ApiBody, ApiNoContentResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ApiProblem, ErrorCode, Errors, JSON_BODY_LIMIT_CONFIG, Public } from '@app/core';
import { S3EventNotificationDto } from './storage-events.dto';
import { STORAGE_EVENTS_WEBHOOK_ROUTE } from './storage-events.gate';
import { parseS3Notification, StorageEventFormatError } from './storage-event.parsers';
import { StorageEventsService } from './storage-events.service';

/** Largest webhook body: S3 sends one record per notification, MinIO one per request; room for batches. */
export const STORAGE_EVENTS_BODY_MAX_BYTES = 1024 * 1024;

/** Security scheme of the webhook's token in the OpenAPI document. */
export const STORAGE_EVENTS_TOKEN_SCHEME = 'storageEventsToken';

@ApiTags('storage-events')
@Controller('events')
export class StorageEventsController {
  constructor(private readonly events: StorageEventsService) {}

  /**
   * Storage event receiver (S3 event notification JSON, e.g. MinIO's webhook target): an `ObjectCreated` record for
   * a pending upload starts its processing, as `POST /media/{id}/complete` would. Answers 204 once each record is
   * applied (committed) or, when that takes longer than 2 s, durably queued for the outbox relay; records for keys that are no pending upload are ignored (counted in
   * `media_storage_events_ignored_total`). Caller: `Authorization: Bearer <STORAGE_EVENTS_WEBHOOK_TOKEN>`; without
   * that setting the route does not exist (404).
   */
  @ApiOperation({
    summary: 'Receive storage events (object created)',
    description:
      'An S3 event notification (`{"Records":[…]}`, or MinIO\'s `{"EventName","Key","Records"}` envelope) from the storage: an ' +
      '`ObjectCreated` record for a pending upload starts its processing, as `POST /media/{id}/complete` would (whichever comes ' +
      'first; the others change nothing). A size other than the declared one fails the asset. Records for keys that are no ' +
      'pending upload are ignored and counted (`media_storage_events_ignored_total`). Answers 204 once every record is applied ' +
      'or durably queued. Caller: `Authorization: Bearer <STORAGE_EVENTS_WEBHOOK_TOKEN>`; without that setting the route answers 404.',
  })
  @ApiSecurity(STORAGE_EVENTS_TOKEN_SCHEME)
  @Public()
  @Post('storage')
  @HttpCode(204)
  // One route config (a second RouteConfig/JsonBodyLimit would replace it): the gate's mark and the body limit.
  @RouteConfig({ [STORAGE_EVENTS_WEBHOOK_ROUTE]: true, [JSON_BODY_LIMIT_CONFIG]: STORAGE_EVENTS_BODY_MAX_BYTES })
  @ApiBody({ type: S3EventNotificationDto })
  @ApiNoContentResponse({ description: 'Received (acted on, or ignored and counted)' })
  @ApiProblem(400, 'The body is not JSON, or not an S3 event notification (`message` names what is wrong)', [ErrorCode.InvalidRequest])
  @ApiProblem(401, 'Missing or wrong STORAGE_EVENTS_WEBHOOK_TOKEN', [ErrorCode.Unauthenticated])
  @ApiProblem(404, 'STORAGE_EVENTS_WEBHOOK_TOKEN is not set: the route is off', [ErrorCode.NotFound])
  async receive(@Body() body: unknown): Promise<void> {
    let parsed;
    try {
      parsed = parseS3Notification(body);
    } catch (e) {
      if (e instanceof StorageEventFormatError) throw Errors.invalid(`Not an S3 event notification: ${e.message}`);
      throw e;
    }
    await this.events.receive(parsed, 'webhook');
  }
}
