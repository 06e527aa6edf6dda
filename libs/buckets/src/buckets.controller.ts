import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ApiProblem, CurrentPrincipal, ErrorCode, Principal } from '@app/core';
import { BucketAclViewDto, BucketListDto, BucketViewDto, CreateBucketDto, ReplaceBucketAclDto, UpdateBucketDto } from './buckets.dto';
import { BucketsService } from './buckets.service';

const NAME_PARAM = ApiParam({ name: 'name', description: 'Bucket name', schema: { type: 'string', minLength: 3, maxLength: 63 } });
const NOT_FOUND = ApiProblem(404, 'No such bucket, or the caller holds nothing on it (existence is not revealed)', [
  ErrorCode.BucketNotFound,
]);

/** User-facing buckets: named folders of assets with settings and grants. */
@ApiTags('buckets')
@Controller('buckets')
export class BucketsController {
  constructor(private readonly buckets: BucketsService) {}

  @Post()
  @ApiOperation({
    summary: 'Create a bucket',
    description:
      'Creates a bucket owned by the caller. Names are 3-63 characters of a-z, 0-9, "." and "-" and unique across the service. ' +
      'With BUCKET_CREATION=admin only admins may create buckets.',
  })
  @ApiCreatedResponse({ type: BucketViewDto, description: 'The new bucket' })
  @ApiProblem(403, 'BUCKET_CREATION=admin and the caller is not an admin', [ErrorCode.Forbidden])
  @ApiProblem(409, 'A bucket with this name exists', [ErrorCode.BucketExists])
  create(@Body() body: CreateBucketDto, @CurrentPrincipal() principal: Principal): Promise<BucketViewDto> {
    return this.buckets.create(body, principal);
  }

  @Get()
  @ApiOperation({
    summary: 'List buckets',
    description: 'The buckets the caller owns or holds a grant on (admins: every bucket), by name.',
  })
  @ApiOkResponse({ type: BucketListDto })
  async list(@CurrentPrincipal() principal: Principal): Promise<BucketListDto> {
    return { items: await this.buckets.list(principal) };
  }

  @Get(':name')
  @NAME_PARAM
  @ApiOperation({ summary: 'Get a bucket', description: 'Its settings and what the caller holds on every asset in it.' })
  @ApiOkResponse({ type: BucketViewDto })
  @NOT_FOUND
  get(@Param('name') name: string, @CurrentPrincipal() principal: Principal): Promise<BucketViewDto> {
    return this.buckets.get(name, principal);
  }

  @Patch(':name')
  @NAME_PARAM
  @ApiOperation({
    summary: 'Change bucket settings',
    description:
      'Only the settings given change (owner or admin). Turning `public` off stops anonymous reads at once and queues a CDN ' +
      "invalidation of the bucket's objects.",
  })
  @ApiOkResponse({ type: BucketViewDto })
  @ApiProblem(403, 'Only the owner may change a bucket; the default bucket is fixed', [ErrorCode.Forbidden])
  @NOT_FOUND
  update(@Param('name') name: string, @Body() body: UpdateBucketDto, @CurrentPrincipal() principal: Principal): Promise<BucketViewDto> {
    return this.buckets.update(name, body, principal);
  }

  @Delete(':name')
  @HttpCode(204)
  @NAME_PARAM
  @ApiQuery({ name: 'force', required: false, enum: ['true', 'false'], description: '`true`: delete every asset in it first' })
  @ApiOperation({
    summary: 'Delete a bucket',
    description:
      'Owner or admin. 409 while live assets remain, unless `?force=true`, which deletes them through the normal delete path ' +
      '(quota freed, stored objects released) first.',
  })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiProblem(403, 'Only the owner may delete a bucket; the default bucket is fixed', [ErrorCode.Forbidden])
  @ApiProblem(409, 'The bucket still holds assets', [ErrorCode.BucketNotEmpty])
  @NOT_FOUND
  async remove(@Param('name') name: string, @Query('force') force: string | undefined, @CurrentPrincipal() principal: Principal) {
    await this.buckets.delete(name, force === 'true', principal);
  }

  @Get(':name/acl')
  @NAME_PARAM
  @ApiOperation({ summary: "Get a bucket's grants", description: 'Owner or admin.' })
  @ApiOkResponse({ type: BucketAclViewDto })
  @ApiProblem(403, 'Only the owner may view the grants', [ErrorCode.Forbidden])
  @NOT_FOUND
  getAcl(@Param('name') name: string, @CurrentPrincipal() principal: Principal): Promise<BucketAclViewDto> {
    return this.buckets.getAcl(name, principal);
  }

  @Put(':name/acl')
  @NAME_PARAM
  @ApiOperation({
    summary: "Replace a bucket's grants",
    description:
      'Owner or admin. Same principals and permissions as asset grants (`user:<id>`, `group:<id>`, `*` read only); each applies to ' +
      "every asset in the bucket on top of the asset's own ACL. Withdrawing `*` read stops anonymous reads at once.",
  })
  @ApiOkResponse({ type: BucketAclViewDto })
  @ApiProblem(403, 'Only the owner may change the grants', [ErrorCode.Forbidden])
  @NOT_FOUND
  replaceAcl(
    @Param('name') name: string,
    @Body() body: ReplaceBucketAclDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<BucketAclViewDto> {
    return this.buckets.replaceAcl(name, body.entries, principal);
  }
}
