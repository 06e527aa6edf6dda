/**
 * The response validator every e2e test runs under (test/support/contract-setup.ts) catches what it is there for: a
 * status the operation does not declare, a body that does not match its schema, a content type not declared, a body
 * where none is declared, a route the document does not describe; and answers true to the document pass. Checked on
 * the committed openapi.json directly, and through the fetch wrapper against a server posing as an app.
 */
import http from 'node:http';
import net from 'node:net';
import { unwatchOrigin, watchOrigin } from './support/contract-origins';
import { takeContractViolations } from './support/contract-setup';
import { OpenApiContract } from './support/openapi-contract';

const contract = OpenApiContract.fromFile();
const ID = '2b1f0f34-5d43-4f4c-9a43-3f7f5f0b8c11';
const json = 'application/json; charset=utf-8';
const asset = {
  assetId: ID,
  status: 'processing',
};

describe('the OpenAPI response validator', () => {
  it('passes answers that are true to the document', () => {
    expect(
      contract.check({ method: 'POST', path: `/media/${ID}/complete`, status: 202, contentType: json, body: JSON.stringify(asset) }),
    ).toEqual({
      operation: 'POST /media/{id}/complete (uploadComplete)',
      problems: [],
    });
    const problem = { statusCode: 409, error: 'ObjectNotUploaded', message: 'No object has been uploaded yet' };
    expect(
      contract.check({ method: 'POST', path: `/media/${ID}/complete`, status: 409, contentType: json, body: JSON.stringify(problem) })
        .problems,
    ).toEqual([]);
    expect(contract.check({ method: 'DELETE', path: `/media/${ID}`, status: 204, contentType: null, body: '' }).problems).toEqual([]);
  });

  it('catches a status the operation does not declare', () => {
    const v = contract.check({
      method: 'POST',
      path: `/media/${ID}/complete`,
      status: 201,
      contentType: json,
      body: JSON.stringify(asset),
    });
    expect(v.operation).toBe('POST /media/{id}/complete (uploadComplete)');
    expect(v.problems).toEqual([expect.stringMatching(/^status 201 is not declared \(declared: 202, 400, .*\)$/)]);
  });

  it('catches a body that does not match the schema: a missing field, a wrong type, an error code the route does not answer', () => {
    const missing = contract.check({
      method: 'POST',
      path: `/media/${ID}/complete`,
      status: 202,
      contentType: json,
      body: '{"assetId":"x"}',
    });
    expect(missing.problems).toEqual([expect.stringContaining("must have required property 'status'")]);

    const wrongType = contract.check({
      method: 'POST',
      path: `/media/${ID}/complete`,
      status: 400,
      contentType: json,
      body: JSON.stringify({ statusCode: 400, error: 'ValidationFailed', message: 'x', details: [{ field: 'parts', problems: [] }] }),
    });
    expect(wrongType.problems).toEqual([expect.stringMatching(/\/details must be object/)]);

    const wrongCode = contract.check({
      method: 'POST',
      path: `/media/${ID}/complete`,
      status: 409,
      contentType: json,
      body: JSON.stringify({ statusCode: 409, error: 'JobAlreadyRunning', message: 'x' }),
    });
    expect(wrongCode.problems).toEqual([expect.stringMatching(/\/error must be equal to one of the allowed values.*ObjectNotUploaded/)]);
  });

  it('catches a content type that is not declared, and a body where none is declared', () => {
    const html = contract.check({
      method: 'GET',
      path: `/media/${ID}`,
      status: 200,
      contentType: 'text/html',
      body: undefined,
      contentLength: '12',
    });
    expect(html.problems).toEqual(['status 200 declares content types application/json, but the answer is text/html']);

    const bodyOn204 = contract.check({ method: 'DELETE', path: `/media/${ID}`, status: 204, contentType: json, body: '{"ok":true}' });
    expect(bodyOn204.problems).toEqual([expect.stringContaining('status 204 declares no body, but the answer has one (application/json)')]);
  });

  it('catches a route the document does not describe, and lets the router refuse unknown ones', () => {
    expect(contract.check({ method: 'POST', path: '/media/search', status: 200, contentType: json, body: '{}' }).problems).toEqual([
      expect.stringContaining('no operation of openapi.json matches it'),
    ]);
    const notFound = JSON.stringify({ statusCode: 404, error: 'NotFound', message: 'Cannot PATCH /media' });
    expect(contract.check({ method: 'PATCH', path: '/media', status: 404, contentType: json, body: notFound }).problems).toEqual([]);
    expect(contract.check({ method: 'PATCH', path: '/media', status: 404, contentType: json, body: '{"oops":1}' }).problems).toEqual([
      expect.stringContaining('is not a ProblemDto'),
    ]);
    // Out of scope by the one list: signed storage URLs, tus.
    expect(contract.check({ method: 'PUT', path: '/storage/media/objects/ab', status: 200, contentType: null, body: '' }).problems).toEqual(
      [],
    );
    expect(contract.check({ method: 'PATCH', path: '/tus/abc', status: 204, contentType: null, body: '' }).problems).toEqual([]);
  });

  describe('hooked into fetch', () => {
    let server: http.Server;
    let base: string;
    beforeAll(async () => {
      // Poses as an app: answers GET /media/{id} with a body missing every field, and /quota with text.
      server = http.createServer((req, res) => {
        if (req.url?.startsWith('/quota')) return void res.writeHead(200, { 'content-type': 'text/plain' }).end('plenty');
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":1}');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
      watchOrigin(base);
    });
    afterAll(async () => {
      unwatchOrigin(base);
      await new Promise((resolve) => server.close(resolve));
    });

    it('records every drifting answer of a watched origin, naming operation, status and mismatch', async () => {
      expect((await fetch(`${base}/media/${ID}`)).status).toBe(200);
      await (await fetch(`${base}/quota`)).text();
      // Taken here, so this test does not fail on them (as any other test would, in afterEach).
      const found = await takeContractViolations();
      expect(found).toEqual([
        expect.stringMatching(
          /^GET \/media\/\{id\} \(assetsGet\) → 200: status 200 body does not match its schema: .*must have required property/,
        ),
        'GET /quota (quotaMine) → 200: status 200 declares content types application/json, but the answer is text/plain',
      ]);
    });

    it('leaves origins it does not watch alone', async () => {
      unwatchOrigin(base);
      try {
        await (await fetch(`${base}/quota`)).text();
        expect(await takeContractViolations()).toEqual([]);
      } finally {
        watchOrigin(base);
      }
    });
  });
});
