import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiProblem, AssetAccess, CurrentAssetAccess, CurrentPrincipal, ErrorCode, Principal, RequireAssetAccess } from '@app/core';
import { AssetViewDto } from '@app/assets';
import { AssetAddressDto, BatchDeleteDto, BatchDeleteResponseDto } from './asset-moves.dto';
import { AssetMovesService } from './asset-moves.service';

const BAD_TARGET = ApiProblem(400, 'Bad path or bucket name, or the target bucket does not accept the type', [
  ErrorCode.ValidationFailed,
  ErrorCode.MimeTypeNotAllowed,
]);
const TOO_LARGE = ApiProblem(413, "Over the target bucket's file size limit (copy: or the caller's byte quota)", [
  ErrorCode.PayloadTooLarge,
  ErrorCode.QuotaBytesExceeded,
]);

@ApiTags('media')
@Controller('media')
export class AssetMovesController {
  constructor(private readonly moves: AssetMovesService) {}

  @Post('batch-delete')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Delete many assets',
    description:
      'Up to 1000 entries (`ids`, and/or `paths` in `bucket`), each independent: 204 deleted, 403 readable but not deletable, ' +
      '404 not found or not readable. Chunks of 100 are deleted in one transaction each through the normal delete path (quota freed).',
  })
  @ApiOkResponse({ type: BatchDeleteResponseDto })
  async batchDelete(@Body() body: BatchDeleteDto, @CurrentPrincipal() principal: Principal): Promise<BatchDeleteResponseDto> {
    return { results: await this.moves.batchDelete(body, principal) };
  }

  @Post(':id/move')
  @HttpCode(200)
  @RequireAssetAccess('write')
  @ApiOperation({
    summary: 'Move or rename an asset',
    description:
      'A metadata operation: the bytes stay, the (bucket, path) changes; cached records and CDN copies are dropped. Needs `write` on ' +
      'the asset and on the target bucket.',
  })
  @ApiOkResponse({ type: AssetViewDto })
  @ApiProblem(403, 'The caller may read the asset but not change it, or may not write into the target bucket', [ErrorCode.Forbidden])
  @ApiProblem(404, 'No such asset or target bucket (or the caller may not read it)', [ErrorCode.AssetNotFound, ErrorCode.BucketNotFound])
  @ApiProblem(409, 'A live asset has the target path', [ErrorCode.PathTaken])
  @BAD_TARGET
  @TOO_LARGE
  move(
    @CurrentAssetAccess() access: AssetAccess,
    @Body() body: AssetAddressDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<AssetViewDto> {
    return this.moves.move(access, body, principal);
  }

  @Post(':id/copy')
  @RequireAssetAccess('read')
  @ApiOperation({
    summary: 'Copy an asset',
    description:
      'A new ready asset owned by the caller at (bucket, path), sharing the stored object (reference count +1, no bytes copied), ' +
      'with the metadata copied and no ACL. Needs `read` on the source and `write` on the target bucket.',
  })
  @ApiCreatedResponse({ type: AssetViewDto, description: 'The new asset' })
  @ApiProblem(403, 'The caller may not write into the target bucket', [ErrorCode.Forbidden])
  @ApiProblem(404, 'No such asset or target bucket (or the caller may not read it)', [ErrorCode.AssetNotFound, ErrorCode.BucketNotFound])
  @ApiProblem(409, 'A live asset has the target path, or the source is not ready', [ErrorCode.PathTaken, ErrorCode.AssetNotReady])
  @ApiProblem(429, "One more asset would exceed the caller's asset quota", [ErrorCode.QuotaAssetsExceeded])
  @BAD_TARGET
  @TOO_LARGE
  copy(
    @CurrentAssetAccess() access: AssetAccess,
    @Body() body: AssetAddressDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<AssetViewDto> {
    return this.moves.copy(access, body, principal);
  }
}
