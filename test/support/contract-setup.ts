/**
 * Jest setup of the e2e project (jest.config.js setupFilesAfterEnv): every answer that fetch receives from an app
 * started by startApp is checked against the committed openapi.json (openapi-contract.ts). A drift fails the test that
 * caused it, in afterEach, naming the operation, the status and what does not match. Answers that are not JSON are
 * checked by status and Content-Type without reading their bodies (downloads stream as before).
 */
import { isWatchedOrigin } from './contract-origins';
import { OpenApiContract } from './openapi-contract';

const contract = OpenApiContract.fromFile();
const original = globalThis.fetch;
let pending: Promise<void>[] = [];
let violations: string[] = [];

function requestOf(input: Parameters<typeof fetch>[0], init?: RequestInit): { method: string; url: URL } {
  if (input instanceof Request) return { method: (init?.method ?? input.method).toUpperCase(), url: new URL(input.url) };
  return { method: (init?.method ?? 'GET').toUpperCase(), url: new URL(String(input instanceof URL ? input.href : input)) };
}

async function inspect(method: string, requested: URL, res: Response): Promise<void> {
  // After a followed redirect the answer is the last hop's.
  const url = res.redirected && res.url ? new URL(res.url) : requested;
  if (!isWatchedOrigin(url.origin)) return;
  const contentType = res.headers.get('content-type');
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  const readBody = method !== 'HEAD' && res.status !== 204 && res.status !== 304 && (type === 'application/json' || type.endsWith('+json'));
  let body: string | undefined;
  if (readBody) {
    try {
      body = await res.clone().text();
    } catch {
      return; // the test aborted the request: nothing complete to check
    }
  }
  const verdict = contract.check({
    method: res.redirected ? 'GET' : method,
    path: url.pathname,
    status: res.status,
    contentType,
    body,
    contentLength: res.headers.get('content-length'),
  });
  if (verdict.problems.length) {
    violations.push(`${verdict.operation} → ${res.status}: ${verdict.problems.join('; ')}`);
  }
}

globalThis.fetch = async function contractCheckedFetch(input: Parameters<typeof fetch>[0], init?: RequestInit) {
  const res = await original(input, init);
  try {
    const { method, url } = requestOf(input, init);
    pending.push(inspect(method, url, res).catch((e: unknown) => void violations.push(`contract check failed: ${String(e)}`)));
  } catch {
    /* not a URL we can read: not ours */
  }
  return res;
};

/** Waits for the checks in flight and returns (and forgets) what they found. For the validator's own test. */
export async function takeContractViolations(): Promise<string[]> {
  const inFlight = pending;
  pending = [];
  await Promise.all(inFlight);
  const found = violations;
  violations = [];
  return found;
}

async function failOnViolations(): Promise<void> {
  const found = await takeContractViolations();
  if (found.length) {
    throw new Error(
      `${found.length} answer(s) contradict openapi.json (fix the code or the document, then \`npm run openapi\`):\n- ${found.join('\n- ')}`,
    );
  }
}

afterEach(failOnViolations);
afterAll(failOnViolations);
