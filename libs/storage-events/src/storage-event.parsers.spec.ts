import {
  decodeS3Key,
  isObjectCreatedEvent,
  parseQueueMessage,
  parseS3Notification,
  StorageEventFormatError,
} from './storage-event.parsers';

const KEY = 'uploads/42/0b5c6d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e';
const s3Record = (over: Record<string, unknown> = {}) => ({
  eventVersion: '2.1',
  eventSource: 'aws:s3',
  eventName: 'ObjectCreated:Put',
  s3: { s3SchemaVersion: '1.0', bucket: { name: 'media', arn: 'arn:aws:s3:::media' }, object: { key: KEY, size: 11, eTag: 'abc' } },
  ...over,
});

describe('storage event parsers', () => {
  it('read an S3 event notification (URL-encoded keys decoded, size and eTag kept)', () => {
    const parsed = parseS3Notification({
      Records: [s3Record(), s3Record({ s3: { bucket: { name: 'media' }, object: { key: 'a+b%2Fc%3A%C3%A9' } } })],
    });
    expect(parsed).toEqual({
      records: [
        { eventName: 'ObjectCreated:Put', bucket: 'media', key: KEY, size: 11, etag: 'abc' },
        { eventName: 'ObjectCreated:Put', bucket: 'media', key: 'a b/c:é', size: undefined, etag: undefined },
      ],
      otherEvents: 0,
      testEvent: false,
    });
  });

  it("read MinIO's webhook envelope (EventName, Key and s3:-prefixed event names)", () => {
    const parsed = parseS3Notification({
      EventName: 's3:ObjectCreated:Put',
      Key: `media/${KEY}`,
      Records: [s3Record({ eventName: 's3:ObjectCreated:Put' })],
    });
    expect(parsed.records).toEqual([{ eventName: 's3:ObjectCreated:Put', bucket: 'media', key: KEY, size: 11, etag: 'abc' }]);
  });

  it('count records of other kinds and recognise the S3 test event', () => {
    expect(parseS3Notification({ Records: [s3Record({ eventName: 'ObjectRemoved:Delete' })] })).toEqual({
      records: [],
      otherEvents: 1,
      testEvent: false,
    });
    expect(parseS3Notification({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'media' }).testEvent).toBe(true);
    expect(isObjectCreatedEvent('ObjectCreated:CompleteMultipartUpload')).toBe(true);
    expect(isObjectCreatedEvent('s3:ObjectCreated:Copy')).toBe(true);
    expect(isObjectCreatedEvent('ObjectRemoved:Delete')).toBe(false);
  });

  it('name what is wrong with a body that is not a notification', () => {
    const bad: [unknown, RegExp][] = [
      [[], /JSON object/],
      [{ records: [] }, /no "Records" array/],
      [{ Records: [1] }, /Records\[0\] must be an object/],
      [{ Records: [{ s3: {} }] }, /Records\[0\]\.eventName/],
      [{ Records: [s3Record({ s3: { bucket: {}, object: { key: KEY } } })] }, /Records\[0\]\.s3\.bucket\.name/],
      [
        { Records: [s3Record({ s3: { bucket: { name: 'media' }, object: { key: KEY, size: -1 } } })] },
        /size must be a non-negative integer/,
      ],
      [{ Records: [s3Record({ s3: { bucket: { name: 'media' }, object: { key: '%E0%A4%A' } } })] }, /not valid URL encoding/],
    ];
    for (const [body, message] of bad) {
      expect(() => parseS3Notification(body)).toThrow(StorageEventFormatError);
      expect(() => parseS3Notification(body)).toThrow(message);
    }
  });

  it('open SNS envelopes (not raw delivery) and read raw ones as S3 bodies', () => {
    const direct = JSON.stringify({ Records: [s3Record()] });
    const wrapped = JSON.stringify({ Type: 'Notification', MessageId: 'm1', TopicArn: 'arn:aws:sns:us-east-1:1:t', Message: direct });
    expect(parseQueueMessage(direct).records).toEqual(parseQueueMessage(wrapped).records);
    expect(parseQueueMessage(wrapped).records[0].key).toBe(KEY);
    expect(parseQueueMessage(JSON.stringify({ Type: 'Notification', Message: JSON.stringify({ Event: 's3:TestEvent' }) })).testEvent).toBe(
      true,
    );
    expect(() => parseQueueMessage(JSON.stringify({ Type: 'Notification', Message: '{nope' }))).toThrow(
      /SNS envelope "Message" is not valid JSON/,
    );
    expect(() => parseQueueMessage('nope')).toThrow(/message body is not valid JSON/);
  });

  it("read EventBridge's Object Created event (its key is not URL-encoded), and skip its other event types", () => {
    const event = {
      version: '0',
      'detail-type': 'Object Created',
      source: 'aws.s3',
      detail: { version: '0', bucket: { name: 'media-eu' }, object: { key: 'a+b', size: 5, etag: 'e1' }, reason: 'PutObject' },
    };
    expect(parseQueueMessage(JSON.stringify(event)).records).toEqual([
      { eventName: 'Object Created', bucket: 'media-eu', key: 'a+b', size: 5, etag: 'e1' },
    ]);
    // EventBridge → SNS → SQS
    expect(parseQueueMessage(JSON.stringify({ Type: 'Notification', Message: JSON.stringify(event) })).records).toHaveLength(1);
    expect(parseQueueMessage(JSON.stringify({ ...event, 'detail-type': 'Object Deleted' }))).toEqual({
      records: [],
      otherEvents: 1,
      testEvent: false,
    });
    expect(() => parseQueueMessage(JSON.stringify({ ...event, detail: { bucket: { name: 'x' } } }))).toThrow(/"detail" must hold/);
  });

  it('decode keys as S3 encodes them', () => {
    expect(decodeS3Key('photos/my+summer%28%29.jpg')).toBe('photos/my summer().jpg');
    expect(decodeS3Key('a%2Bb')).toBe('a+b');
  });
});
