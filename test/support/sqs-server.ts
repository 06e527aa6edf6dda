import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { freePort, REPO_ROOT } from './app-process';
import type { S3EmulatorEvent } from './s3-server';

/**
 * A real SQS-protocol server for tests: fauxqs 1.9 (npm; SQS, SNS and S3 in memory) run as a child process through
 * its CLI (the package is ESM-only) on a free port. Its CLI listens on every interface; tests talk to 127.0.0.1.
 * The SQS API it serves is the real protocol @aws-sdk/client-sqs speaks: long polling, visibility timeouts,
 * receive counts, delete.
 */
export interface SqsTestServer {
  endpoint: string;
  client: SQSClient;
  /** Creates a queue (attributes as SQS takes them, e.g. { VisibilityTimeout: '2' }); returns its URL. */
  createQueue(name: string, attributes?: Record<string, string>): Promise<string>;
  send(queueUrl: string, body: unknown): Promise<void>;
  /** Visible and in-flight (received, not deleted) messages of a queue. */
  counts(queueUrl: string): Promise<{ visible: number; inFlight: number }>;
  /** Takes (receives) visible messages without deleting them. */
  peek(queueUrl: string, visibilityTimeout?: number): Promise<string[]>;
  purge(queueUrl: string): Promise<void>;
  stop(): Promise<void>;
}

export const SQS_CREDENTIALS = { accessKeyId: 'fauxqs', secretAccessKey: 'fauxqs' };

export async function startSqsServer(): Promise<SqsTestServer> {
  const port = await freePort();
  const cli = path.join(REPO_ROOT, 'node_modules/fauxqs/dist/cli.js');
  let out = '';
  const child: ChildProcess = spawn(process.execPath, [cli], {
    env: { PATH: process.env.PATH ?? '', FAUXQS_PORT: String(port), FAUXQS_LOGGER: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (out = (out + String(d)).slice(-4000)));
  child.stderr!.on('data', (d) => (out = (out + String(d)).slice(-4000)));
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new SQSClient({ endpoint, region: 'us-east-1', credentials: SQS_CREDENTIALS, maxAttempts: 1 });
  const deadline = Date.now() + 15000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`fauxqs exited with ${child.exitCode}:\n${out}`);
    try {
      await client.send(new CreateQueueCommand({ QueueName: 'readiness' }));
      break;
    } catch (e) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`fauxqs did not answer within 15 s: ${(e as Error).message}\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const counts = async (queueUrl: string) => {
    const a = await client.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return {
      visible: Number(a.Attributes?.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
  };
  return {
    endpoint,
    client,
    createQueue: async (name, attributes) =>
      (await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl!,
    send: async (queueUrl, body) => {
      await client.send(
        new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: typeof body === 'string' ? body : JSON.stringify(body) }),
      );
    },
    counts,
    peek: async (queueUrl, visibilityTimeout = 30) => {
      const r = await client.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: visibilityTimeout }),
      );
      return (r.Messages ?? []).map((m) => m.Body ?? '');
    },
    purge: async (queueUrl) => {
      await client.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));
    },
    stop: async () => {
      client.destroy();
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** An object key URL-encoded as S3 writes it into event notifications ("red flower.jpg" → "red+flower.jpg"). */
export function s3NotificationKey(key: string): string {
  return key
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/%20/g, '+'))
    .join('/');
}

/**
 * One object-created record in S3's documented event notification format (event structure 2.1; see "Event message
 * structure" in the Amazon S3 user guide), for `bucket`/`key` (encoded here) with `size` and `eTag`.
 */
export function s3NotificationRecord(r: { eventName: string; bucket: string; key: string; size?: number; eTag?: string }) {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-east-1',
    eventTime: new Date().toISOString(),
    eventName: r.eventName,
    userIdentity: { principalId: 'AWS:AIDAEXAMPLE' },
    requestParameters: { sourceIPAddress: '127.0.0.1' },
    responseElements: {
      'x-amz-request-id': 'C3D13FE58DE4C810',
      'x-amz-id-2': 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD',
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'media-uploads',
      bucket: { name: r.bucket, ownerIdentity: { principalId: 'A3NL1KOZZKExample' }, arn: `arn:aws:s3:::${r.bucket}` },
      object: {
        key: s3NotificationKey(r.key),
        ...(r.size !== undefined ? { size: r.size } : {}),
        ...(r.eTag !== undefined ? { eTag: r.eTag } : {}),
        sequencer: Date.now().toString(16).toUpperCase(),
      },
    },
  };
}

/**
 * The S3 emulator cannot publish bucket notifications: this turns its in-process `event` (already S3-shaped, but
 * with a raw key) into the notification S3 would send to SQS (S3's documented format, the key URL-encoded).
 */
export function s3NotificationFromEmulator(e: S3EmulatorEvent): { Records: ReturnType<typeof s3NotificationRecord>[] } {
  return {
    Records: e.Records.map((r) =>
      s3NotificationRecord({
        eventName: r.eventName,
        bucket: r.s3.bucket.name,
        key: r.s3.object.key,
        size: r.s3.object.size,
        eTag: r.s3.object.eTag,
      }),
    ),
  };
}
