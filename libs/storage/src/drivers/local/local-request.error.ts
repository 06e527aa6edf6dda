/** Thrown by the local driver's checks on what a signed request asks (key, signature, limits); `status` is the HTTP answer. */
export class LocalRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
