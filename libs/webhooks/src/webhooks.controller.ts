import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminOnly, ApiProblem, CurrentPrincipal, ErrorCode, Principal } from '@app/core';
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
@ApiTags('webhooks')
@Controller('admin/webhooks')
@AdminOnly()
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  /** Registers an endpoint; the answer carries its signing secret, shown this once. */
  @Post()
  @ApiBody({
    type: CreateWebhookDto,
    examples: {
      ready: {
        summary: 'Be told when assets are ready or deleted',
        value: { url: 'https://hooks.example.net/media', events: ['asset.ready', 'asset.deleted'], description: 'CMS sync' },
      },
    },
  })
  @HttpCode(201)
  @ApiOperation({
    summary: 'Register a webhook',
    description:
      'Operators: registers an endpoint for asset events; the answer carries its signing secret, shown this once. Private, loopback and metadata addresses are refused.',
  })
  create(@Body() dto: CreateWebhookDto, @CurrentPrincipal() principal: Principal): Promise<CreatedWebhookView> {
    return this.webhooks.create(dto, principal);
  }

  @Get()
  @ApiOperation({ summary: 'List webhooks', description: 'Operators: every registered endpoint (without secrets).' })
  list(): Promise<WebhookListDto> {
    return this.webhooks.list();
  }

  @Get(':id')
  @ApiProblem(404, 'No webhook with this id', [ErrorCode.NotFound])
  @ApiOperation({ summary: 'Get a webhook', description: 'Operators: one endpoint (without its secret).' })
  get(@Param('id') id: string): Promise<WebhookView> {
    return this.webhooks.get(id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiProblem(404, 'No webhook with this id', [ErrorCode.NotFound])
  @ApiOperation({ summary: 'Delete a webhook', description: 'Operators: removes the endpoint; pending deliveries to it stop.' })
  async remove(@Param('id') id: string): Promise<void> {
    await this.webhooks.remove(id);
  }

  /** Newest first, each with its attempts (time, HTTP status or error, duration). */
  @Get(':id/deliveries')
  @ApiProblem(404, 'No webhook with this id', [ErrorCode.NotFound])
  @ApiOperation({
    summary: 'List deliveries',
    description: 'Operators: deliveries to the endpoint, newest first, each with its attempts (time, HTTP status or error, duration).',
  })
  deliveries(@Param('id') id: string, @Query() q: ListDeliveriesQueryDto): Promise<DeliveryListDto> {
    return this.webhooks.deliveries(id, q.limit);
  }

  @Post(':id/deliveries/:deliveryId/replay')
  @HttpCode(202)
  @ApiProblem(404, 'No webhook with this id, or (replay) no such delivery of it', [ErrorCode.NotFound])
  @ApiOperation({ summary: 'Replay a delivery', description: 'Operators: sends the delivery again, as a new attempt.' })
  replay(@Param('id') id: string, @Param('deliveryId') deliveryId: string): Promise<DeliveryView> {
    return this.webhooks.replay(id, deliveryId);
  }
}
