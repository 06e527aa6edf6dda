import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { CDN_CONFIG, CdnConfig, SERVER_CONFIG, ServerConfig, STORAGE_CONFIG, StorageConfig } from '@app/core';
import { uploadPageCsp } from './upload-page.csp';

export interface PageFile {
  body: Buffer;
  contentType: string;
  etag: string;
}

/** Where the page's files are: next to this module (nest-cli.json copies `public/` into dist). */
export const PUBLIC_DIR = join(__dirname, 'public');

/** The page's files by URL path: the HTML, its one ES module and stylesheet, and tus-js-client's browser bundle. */
function pageFiles(): Record<string, { path: string; contentType: string }> {
  return {
    '/': { path: join(PUBLIC_DIR, 'index.html'), contentType: 'text/html; charset=utf-8' },
    '/assets/upload-page.js': { path: join(PUBLIC_DIR, 'upload-page.js'), contentType: 'text/javascript; charset=utf-8' },
    '/assets/upload-page.css': { path: join(PUBLIC_DIR, 'upload-page.css'), contentType: 'text/css; charset=utf-8' },
    // Resolved through the package (no hard-coded node_modules path): wherever npm put it.
    '/assets/tus.min.js': { path: require.resolve('tus-js-client/dist/tus.min.js'), contentType: 'text/javascript; charset=utf-8' },
  };
}

/**
 * The browser upload page: a few small static files, read once at start-up (a missing one stops the service
 * with its path, rather than a page that half works), and the page's Content-Security-Policy.
 */
@Injectable()
export class UploadPageService {
  private readonly files = new Map<string, PageFile>();
  readonly csp: string;

  constructor(
    @Inject(STORAGE_CONFIG) storage: StorageConfig,
    @Inject(SERVER_CONFIG) server: ServerConfig,
    @Inject(CDN_CONFIG) cdn: CdnConfig,
  ) {
    for (const [urlPath, { path, contentType }] of Object.entries(pageFiles())) {
      if (!existsSync(path)) throw new Error(`Upload page file missing: ${path} (is nest-cli.json copying libs/web/src/public into dist?)`);
      const body = readFileSync(path);
      this.files.set(urlPath, { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
    }
    this.csp = uploadPageCsp(storage, server, cdn);
  }

  file(urlPath: string): PageFile | undefined {
    return this.files.get(urlPath);
  }
}
