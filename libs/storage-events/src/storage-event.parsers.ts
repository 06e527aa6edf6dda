/**
 * Pure parsers for the notification formats a bucket's "object created" event arrives in. No I/O, no Nest: they
 * turn a body into `ObjectCreatedRecord`s or say precisely what is wrong with it (StorageEventFormatError).
 *
 * - S3 event notification (S3 → SQS/SNS/webhook, MinIO's webhook target): `{"Records":[{"eventName":
 *   "ObjectCreated:Put","s3":{"bucket":{"name"},"object":{"key","size","eTag"}}}]}`; the key is URL-encoded
 *   (form encoding: `+` is a space). MinIO adds `EventName` and `Key` beside `Records` and prefixes event names
 *   with `s3:`.
 * - The S3 test event sent when a notification configuration is saved: `{"Event":"s3:TestEvent",…}`.
 * - SNS envelope (subscriptions without raw message delivery): `{"Type":"Notification","Message":"<json>"}`.
 * - EventBridge: `{"detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name"},"object":{"key",
 *   "size","etag"}}}`; its key is not URL-encoded.
 */

/** One object-created event, whatever format it came in. */
export interface ObjectCreatedRecord {
  /** As the source names it: `ObjectCreated:Put`, `s3:ObjectCreated:CompleteMultipartUpload`, `Object Created`… */
  eventName: string;
  bucket: string;
  /** Decoded object key. */
  key: string;
  /** Bytes stored, when the event says. */
  size?: number;
  etag?: string;
}

export interface ParsedNotification {
  /** The object-created records. */
  records: ObjectCreatedRecord[];
  /** Records of other kinds (ObjectRemoved, restore, …): not ours to act on. */
  otherEvents: number;
  /** An S3 test event (nothing to do). */
  testEvent: boolean;
}

export class StorageEventFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageEventFormatError';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Decodes an S3 notification key: form-style URL encoding (`+` is a space, then %xx). */
export function decodeS3Key(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    throw new StorageEventFormatError(`object key ${JSON.stringify(raw.slice(0, 200))} is not valid URL encoding`);
  }
}

/** Whether an S3/MinIO event name is an object-created one (`ObjectCreated:*`, with or without MinIO's `s3:`). */
export function isObjectCreatedEvent(eventName: string): boolean {
  return /^(s3:)?ObjectCreated:/.test(eventName);
}

function optionalSize(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new StorageEventFormatError(`${where} must be a non-negative integer`);
  return v;
}

function requiredString(v: unknown, where: string): string {
  if (typeof v !== 'string' || v === '') throw new StorageEventFormatError(`${where} must be a non-empty string`);
  return v;
}

function optionalEtag(v: unknown, where: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new StorageEventFormatError(`${where} must be a string`);
  return v;
}

/** An S3 event notification (also MinIO's webhook body, whose `EventName`/`Key` repeat what `Records` say). */
export function parseS3Notification(body: unknown): ParsedNotification {
  if (!isObject(body)) throw new StorageEventFormatError('body must be a JSON object (an S3 event notification)');
  if (body.Event === 's3:TestEvent') return { records: [], otherEvents: 0, testEvent: true };
  if (!Array.isArray(body.Records)) {
    throw new StorageEventFormatError('body has no "Records" array: expected an S3 event notification {"Records":[…]}');
  }
  const out: ParsedNotification = { records: [], otherEvents: 0, testEvent: false };
  body.Records.forEach((r: unknown, i) => {
    const at = `Records[${i}]`;
    if (!isObject(r)) throw new StorageEventFormatError(`${at} must be an object`);
    const eventName = requiredString(r.eventName, `${at}.eventName`);
    if (!isObjectCreatedEvent(eventName)) {
      out.otherEvents++;
      return;
    }
    const s3 = r.s3;
    if (!isObject(s3) || !isObject(s3.bucket) || !isObject(s3.object)) {
      throw new StorageEventFormatError(`${at}.s3 must hold "bucket" and "object" objects`);
    }
    out.records.push({
      eventName,
      bucket: requiredString(s3.bucket.name, `${at}.s3.bucket.name`),
      key: decodeS3Key(requiredString(s3.object.key, `${at}.s3.object.key`)),
      size: optionalSize(s3.object.size, `${at}.s3.object.size`),
      etag: optionalEtag(s3.object.eTag, `${at}.s3.object.eTag`),
    });
  });
  return out;
}

/** An EventBridge event from S3; only "Object Created" is acted on. */
export function parseEventBridgeEvent(body: Record<string, unknown>): ParsedNotification {
  const type = body['detail-type'];
  if (type !== 'Object Created') return { records: [], otherEvents: 1, testEvent: false };
  if (body.source !== undefined && body.source !== 'aws.s3') {
    throw new StorageEventFormatError(`EventBridge event from source ${JSON.stringify(body.source)}; expected "aws.s3"`);
  }
  const detail = body.detail;
  if (!isObject(detail) || !isObject(detail.bucket) || !isObject(detail.object)) {
    throw new StorageEventFormatError('EventBridge "detail" must hold "bucket" and "object" objects');
  }
  return {
    records: [
      {
        eventName: 'Object Created',
        bucket: requiredString(detail.bucket.name, 'detail.bucket.name'),
        key: requiredString(detail.object.key, 'detail.object.key'),
        size: optionalSize(detail.object.size, 'detail.object.size'),
        etag: optionalEtag(detail.object.etag, 'detail.object.etag'),
      },
    ],
    otherEvents: 0,
    testEvent: false,
  };
}

/**
 * The body of an SQS message, in any of the formats above: an SNS envelope is opened (its Message parsed in turn),
 * an EventBridge event recognised by `detail-type`, anything else read as an S3 event notification.
 */
export function parseQueueMessage(text: string): ParsedNotification {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new StorageEventFormatError(`message body is not valid JSON: ${(e as Error).message}`);
  }
  return parseNotificationValue(body, 0);
}

function parseNotificationValue(body: unknown, depth: number): ParsedNotification {
  if (isObject(body) && body.Type === 'Notification' && 'Message' in body) {
    if (depth > 0) throw new StorageEventFormatError('an SNS envelope inside an SNS envelope');
    if (typeof body.Message !== 'string') throw new StorageEventFormatError('SNS envelope "Message" must be a string');
    let inner: unknown;
    try {
      inner = JSON.parse(body.Message);
    } catch (e) {
      throw new StorageEventFormatError(`SNS envelope "Message" is not valid JSON: ${(e as Error).message}`);
    }
    return parseNotificationValue(inner, depth + 1);
  }
  if (isObject(body) && typeof body['detail-type'] === 'string') return parseEventBridgeEvent(body);
  return parseS3Notification(body);
}
