import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  ArrayUnique,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
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
  @IsIn(ASSET_EVENT_TYPES, { each: true, message: `each event must be one of ${ASSET_EVENT_TYPES.join(', ')}` })
  events: string[];

  @IsOptional()
  @IsString()
  @MaxLength(255)
  description?: string;
}

export class ListDeliveriesQueryDto {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;
}

export class WebhookView {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  active: boolean;
  createdAt: string;
}

/** Only the creation answer carries the secret. */
export class CreatedWebhookView extends WebhookView {
  /** HMAC-SHA256 signing secret of the deliveries; shown this once. */
  secret: string;
}

export class WebhookListDto {
  items: WebhookView[];
}

/** One attempt of a delivery. */
export class DeliveryAttemptDto {
  attempt: number;
  at: string;
  responseStatus: number | null;
  error: string | null;
  durationMs: number;
}

export class DeliveryView {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  @ApiProperty({ enum: ['pending', 'delivered', 'failed'] })
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastAttemptAt: string | null;
  lastResponseStatus: number | null;
  lastError: string | null;
  deliveredAt: string | null;
  replayOf: string | null;
  createdAt: string;
  attemptLog: DeliveryAttemptDto[];
  /** The event as delivered (JSON). */
  @ApiProperty({ type: 'object', additionalProperties: true })
  payload: unknown;
}

export class DeliveryListDto {
  items: DeliveryView[];
}
