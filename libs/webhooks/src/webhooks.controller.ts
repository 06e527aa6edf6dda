import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { AdminOnly, CurrentPrincipal, Principal } from '@app/core';
import {
  CreatedWebhookView,
  CreateWebhookDto,
  DeliveryListDto,
  DeliveryView,
  ListDeliveriesQueryDto,
  WebhookListDto,
  WebhookView,
} from './webhooks.dto';
import { WebhooksService } from './webhooks.service';

/** Operators only (JWT `roles` contains "admin"). */
@ApiTags('admin')
@Controller('admin/webhooks')
@AdminOnly()
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  /** Registers an endpoint; the answer carries its signing secret, shown this once. */
  @Post()
  @HttpCode(201)
  create(@Body() dto: CreateWebhookDto, @CurrentPrincipal() principal: Principal): Promise<CreatedWebhookView> {
    return this.webhooks.create(dto, principal);
  }

  @Get()
  list(): Promise<WebhookListDto> {
    return this.webhooks.list();
  }

  @Get(':id')
  get(@Param('id') id: string): Promise<WebhookView> {
    return this.webhooks.get(id);
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id') id: string): Promise<void> {
    await this.webhooks.remove(id);
  }

  /** Newest first, each with its attempts (time, HTTP status or error, duration). */
  @Get(':id/deliveries')
  deliveries(@Param('id') id: string, @Query() q: ListDeliveriesQueryDto): Promise<DeliveryListDto> {
    return this.webhooks.deliveries(id, q.limit);
  }

  @Post(':id/deliveries/:deliveryId/replay')
  @HttpCode(202)
  replay(@Param('id') id: string, @Param('deliveryId') deliveryId: string): Promise<DeliveryView> {
    return this.webhooks.replay(id, deliveryId);
  }
}
