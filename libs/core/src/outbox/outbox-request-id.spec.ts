import { runInContext } from '../observability/request-context';
import { splitOutboxRequestId, withOutboxRequestId } from './outbox.service';

describe('outbox request id', () => {
  it('stores the current request id beside the payload and hands the handler the payload unchanged', () => {
    const payload = { id: 'evt', type: 'asset.ready', asset: { assetId: 'a' } };
    const stored = runInContext({ requestId: 'req-9' }, () => withOutboxRequestId(payload));
    const roundTrip: unknown = JSON.parse(JSON.stringify(stored));
    expect(splitOutboxRequestId(roundTrip)).toEqual({ payload, requestId: 'req-9' });
  });

  it('leaves payloads written outside a request (sweeps, jobs) and older rows as they are', () => {
    const payload = { assetId: 'a', checksum: '' };
    expect(withOutboxRequestId(payload)).toBe(payload);
    expect(splitOutboxRequestId(payload)).toEqual({ payload });
    expect(splitOutboxRequestId(null)).toEqual({ payload: null });
    expect(splitOutboxRequestId([1, 2])).toEqual({ payload: [1, 2] });
  });
});
