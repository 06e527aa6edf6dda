import { CloudFrontClient, CreateInvalidationCommand } from '@aws-sdk/client-cloudfront';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface CloudFrontInvalidationOptions {
  distributionId: string;
  /** API endpoint override (a local server in tests); default: the AWS CloudFront endpoint. */
  endpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  requestTimeoutMs?: number;
}

/** The one place that talks to the CloudFront API: CreateInvalidation. */
export class CloudFrontInvalidationDriver {
  private readonly client: CloudFrontClient;

  constructor(private readonly options: CloudFrontInvalidationOptions) {
    const timeout = options.requestTimeoutMs ?? 10000;
    this.client = new CloudFrontClient({
      // CloudFront is a global service; its API is signed for us-east-1.
      region: 'us-east-1',
      endpoint: options.endpoint,
      credentials:
        options.accessKeyId && options.secretAccessKey
          ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey }
          : undefined,
      maxAttempts: 3,
      requestHandler: new NodeHttpHandler({ connectionTimeout: timeout, requestTimeout: timeout, socketTimeout: timeout }),
    });
  }

  /**
   * One invalidation for `paths` (at most 3000). `callerReference` makes it idempotent: sending the same
   * reference with the same paths again returns the existing invalidation instead of a second one.
   */
  async createInvalidation(paths: string[], callerReference: string): Promise<{ id?: string; status?: string }> {
    const res = await this.client.send(
      new CreateInvalidationCommand({
        DistributionId: this.options.distributionId,
        InvalidationBatch: { CallerReference: callerReference, Paths: { Quantity: paths.length, Items: paths } },
      }),
    );
    return { id: res.Invalidation?.Id, status: res.Invalidation?.Status };
  }

  destroy(): void {
    this.client.destroy();
  }
}
