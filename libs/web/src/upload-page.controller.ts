import { Controller, Get, Headers, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Errors, Public } from '@app/core';
import type { FastifyReply } from 'fastify';
import { PageFile, UploadPageService } from './upload-page.service';

/** `GET /`: the browser upload page (for people who hold a token); `GET /assets/:file`: its script, style and tus-js-client. */
@ApiExcludeController()
@Public()
@Controller()
export class UploadPageController {
  constructor(private readonly page: UploadPageService) {}

  @Get()
  index(@Headers('if-none-match') ifNoneMatch: string | undefined, @Res({ passthrough: true }) reply: FastifyReply): Buffer | undefined {
    reply.header('content-security-policy', this.page.csp);
    return this.send(this.page.file('/')!, ifNoneMatch, reply);
  }

  @Get('assets/:file')
  asset(
    @Param('file') file: string,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Buffer | undefined {
    const found = this.page.file(`/assets/${file}`);
    if (!found) throw Errors.notFound(`No such asset: /assets/${file}`);
    return this.send(found, ifNoneMatch, reply);
  }

  private send(file: PageFile, ifNoneMatch: string | undefined, reply: FastifyReply): Buffer | undefined {
    // Revalidated on every load (a deploy changes them), answered 304 while unchanged.
    reply.header('content-type', file.contentType).header('cache-control', 'no-cache').header('etag', file.etag);
    if (ifNoneMatch?.split(',').some((t) => t.trim() === file.etag)) {
      reply.status(304);
      return undefined;
    }
    return file.body;
  }
}
