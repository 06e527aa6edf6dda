import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiProblem, CurrentPrincipal, ErrorCode, Errors, Principal, RequireScope } from '@app/core';
import { ApiKeyListDto, CreateApiKeyDto, CreatedApiKeyView } from './api-keys.dto';
import { ApiKeysService } from './api-keys.service';

const KeyIdPipe = new ParseUUIDPipe({ exceptionFactory: () => Errors.validation('Path parameter "id" must be a UUID', { field: 'id' }) });

/** API keys for back ends: each user manages their own. */
@ApiTags('api-keys')
@Controller('api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @HttpCode(201)
  @RequireScope('admin')
  @ApiOperation({
    summary: 'Create an API key (shown once)',
    description:
      'Creates a key that acts as the caller, limited to `scopes`, until `expiresAt` (if given) or revocation. The answer is ' +
      'the only time the key is shown: only its SHA-256 is stored. Send it as `X-Api-Key: <key>` or `Authorization: Bearer <key>`. ' +
      'The `admin` scope may be granted only by an admin. Called with an API key, the key needs the `admin` scope and ' +
      'cannot grant a scope it lacks.',
  })
  @ApiProblem(403, 'The `admin` scope asked by a non-admin (Forbidden), or an API key without the `admin` scope (InsufficientScope)', [
    ErrorCode.Forbidden,
    ErrorCode.InsufficientScope,
  ])
  create(@Body() dto: CreateApiKeyDto, @CurrentPrincipal() principal: Principal): Promise<CreatedApiKeyView> {
    return this.keys.create(dto, principal);
  }

  @Get()
  @ApiOperation({
    summary: "List the caller's API keys",
    description: 'Every key the caller created, oldest first, revoked and expired ones included; never the keys themselves.',
  })
  @ApiProblem(403, 'An API key without the `read` scope', [ErrorCode.InsufficientScope])
  list(@CurrentPrincipal() principal: Principal): Promise<ApiKeyListDto> {
    return this.keys.list(principal);
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScope('admin')
  @ApiOperation({
    summary: 'Revoke an API key',
    description:
      "Revokes one of the caller's keys: from the moment this answers, every replica refuses it (401). Revoking a revoked key " +
      'answers 204 again. Called with an API key, the key needs the `admin` scope.',
  })
  @ApiParam({ name: 'id', description: 'API key id', schema: { type: 'string', format: 'uuid' } })
  @ApiProblem(403, 'An API key without the `admin` scope', [ErrorCode.InsufficientScope])
  @ApiProblem(404, 'The caller has no API key with this id', [ErrorCode.ApiKeyNotFound])
  async revoke(@Param('id', KeyIdPipe) id: string, @CurrentPrincipal() principal: Principal): Promise<void> {
    await this.keys.revoke(id, principal);
  }
}
