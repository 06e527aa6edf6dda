import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayNotEmpty, ArrayUnique, IsArray, IsIn, IsInt, IsOptional, IsString, IsUrl, Max, MaxLength, Min } from 'class-validator';
import { ASSET_EVENT_TYPES } from '@app/assets';

export class CreateWebhookDto {
  /** Where deliveries are POSTed (http or https). */
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] }, { message: 'url must be an http(s) URL' })
  @MaxLength(2048)
  url: string;

  @IsArray()
  @ArrayNotEmpty()
  @ArrayUnique()
  @ArrayMaxSize(ASSET_EVENT_TYPES.length)
  @IsIn(ASSET_EVENT_TYPES as unknown as string[], { each: true, message: `each event must be one of ${ASSET_EVENT_TYPES.join(', ')}` })
  events: string[];

  @IsOptional() @IsString() @MaxLength(255)
  description?: string;
}

export class ListDeliveriesQueryDto {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(200)
  limit?: number;
}

export interface WebhookView {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  active: boolean;
  createdAt: string;
}

/** Only the creation answer carries the secret. */
export interface CreatedWebhookView extends WebhookView {
  secret: string;
}

export interface DeliveryView {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastAttemptAt: string | null;
  lastResponseStatus: number | null;
  lastError: string | null;
  deliveredAt: string | null;
  replayOf: string | null;
  createdAt: string;
  attemptLog: { attempt: number; at: string; responseStatus: number | null; error: string | null; durationMs: number }[];
  payload: unknown;
}
