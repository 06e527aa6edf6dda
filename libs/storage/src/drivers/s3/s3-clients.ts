import { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface S3StorageDriverOptions {
  bucket: string;
  region: string;
  /** S3-compatible endpoint (MinIO, Garage, the test emulator); omit for AWS. */
  endpoint?: string;
  forcePathStyle: boolean;
  /**
   * Endpoint clients use for signed URLs when it differs from the one this service reaches
   * (e.g. http://localhost:9000 outside Docker vs http://minio:9000 inside). Defaults to `endpoint`.
   */
  publicEndpoint?: string;
  /** Omit both to use the SDK's default credential chain (env, profile, instance role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Bounds connecting, waiting for a response, and any stall of a transfer. */
  requestTimeoutMs: number;
  /**
   * Bound on CompleteMultipartUpload, which answers only once the store has assembled the object (S3 keeps the
   * connection alive meanwhile; S3-compatible stores may stay silent for minutes on a large object). Default 15 min.
   */
  completeMultipartTimeoutMs?: number;
}

/** The SDK clients one driver uses. */
export interface S3Clients {
  /** Every request this service makes. */
  client: S3Client;
  /** Same as `client`, with a socket timeout long enough for CompleteMultipartUpload. */
  completeClient: S3Client;
  /** Signs URLs for clients (differs from `client` only when a public endpoint is configured). */
  presignClient: S3Client;
}

/**
 * Builds the clients. Timeouts: connection and time-to-response are bounded by `requestTimeoutMs`, and so is any
 * stall (socket inactivity) while a body streams; the SDK retries up to 3 attempts.
 */
export function createS3Clients(options: S3StorageDriverOptions): S3Clients {
  const timeout = options.requestTimeoutMs;
  const clientConfig: S3ClientConfig = {
    region: options.region,
    endpoint: options.endpoint || undefined,
    forcePathStyle: options.forcePathStyle,
    credentials:
      options.accessKeyId && options.secretAccessKey
        ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey }
        : undefined,
    // Defaults ('WHEN_SUPPORTED') make streamed PUTs aws-chunked with trailing checksums, which
    // S3-compatible stores mishandle, and add checksum parameters to presigned URLs.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: timeout,
      // Time until the response headers arrive (per attempt). Writes of known length override it
      // per request, since a large body may legitimately take longer to send.
      requestTimeout: timeout,
      throwOnRequestTimeout: true,
      // Inactivity on the socket, also while a response body is being streamed to a caller.
      socketTimeout: timeout,
    }),
  };
  const client = new S3Client(clientConfig);
  addStripBucketTrailingSlash(client, options.bucket);
  const completeTimeout = Math.max(options.completeMultipartTimeoutMs ?? 15 * 60_000, timeout);
  const completeClient = new S3Client({
    ...clientConfig,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: timeout,
      requestTimeout: completeTimeout,
      throwOnRequestTimeout: true,
      socketTimeout: completeTimeout,
    }),
  });
  addStripBucketTrailingSlash(completeClient, options.bucket);
  const presignClient =
    options.publicEndpoint && options.publicEndpoint !== options.endpoint
      ? new S3Client({ ...clientConfig, endpoint: options.publicEndpoint })
      : client;
  return { client, completeClient, presignClient };
}

function addStripBucketTrailingSlash(client: S3Client, bucket: string): void {
  client.middlewareStack.add(stripBucketTrailingSlash(bucket), { step: 'build', name: 'stripBucketTrailingSlash', override: true });
}

/**
 * Path-style bucket-level requests (HeadBucket, ListObjectsV2…) are sent to `/<bucket>/`. S3 accepts
 * that, but some S3-compatible stores (the @20minutes/s3rver emulator) canonicalise the resource as
 * `/<bucket>` and reject the signature. `/<bucket>` means the same to every store, so send that.
 * Runs in the build step, before signing; object paths are never touched.
 */
function stripBucketTrailingSlash(bucket: string) {
  const bucketPath = `/${bucket}/`;
  return <Args extends { request: unknown }, Out>(next: (args: Args) => Promise<Out>) =>
    async (args: Args): Promise<Out> => {
      const req = args.request as { path?: unknown } | undefined;
      if (req && typeof req === 'object' && req.path === bucketPath) req.path = bucketPath.slice(0, -1);
      return next(args);
    };
}
