/**
 * Writes the OpenAPI document (openapi.json at the repository root) from the built app, without a database,
 * Redis or storage: the app is created in preview mode (modules and routes resolved, no provider instantiated).
 *   node dist/apps/api/src/cli/openapi.js [--out <file> | --stdout]
 * Run through `npm run openapi`, which builds first and then regenerates the SDK types.
 */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig } from '@app/core';
import { AppModule } from '../app.module';
import { createOpenApiDocument, serializeOpenApiDocument } from '../openapi/openapi-document';

const REPO_ROOT = path.resolve(__dirname, '../../../../..');

/** The part of Nest's (internal) module container that preview mode leaves to fill in. */
interface PreviewApp {
  container: { getModules(): Map<string, { controllers: Map<unknown, { instance: unknown; metatype: { prototype: object } }> }> };
}

export async function generateOpenApi(): Promise<string> {
  // Fixed configuration (not the caller's environment): the document depends on the code only.
  const config = loadConfig({ NODE_ENV: 'development' });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), new FastifyAdapter(), {
    preview: true,
    logger: false,
    abortOnError: false,
  });
  // Preview mode instantiates nothing; the document only needs each controller's prototype.
  for (const mod of (app as unknown as PreviewApp).container.getModules().values()) {
    for (const wrapper of mod.controllers.values()) {
      if (!wrapper.instance) wrapper.instance = Object.create(wrapper.metatype.prototype);
    }
  }
  try {
    return serializeOpenApiDocument(createOpenApiDocument(app));
  } finally {
    await app.close().catch(() => undefined);
  }
}

if (require.main === module) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, stdout: { type: 'boolean' } } });
  generateOpenApi()
    .then((text) => {
      if (values.stdout) return void process.stdout.write(text);
      const out = path.resolve(values.out ?? path.join(REPO_ROOT, 'openapi.json'));
      writeFileSync(out, text);
      process.stderr.write(`wrote ${path.relative(process.cwd(), out) || out}\n`);
    })
    .catch((e) => {
      process.stderr.write(`openapi: ${e instanceof Error ? (e.stack ?? e.message) : e}\n`);
      process.exit(1);
    });
}
