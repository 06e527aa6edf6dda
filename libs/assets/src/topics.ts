/** Outbox topics owned by the assets module. */
export const OBJECT_DELETE_TOPIC = 'object.delete';
/** Asset events (asset-events.ts), fanned out to subscribers registered with AssetEventsService.subscribe. */
export const ASSET_EVENT_TOPIC = 'asset.event';
/** After an asset became ready: check the shared stored object (heal it when missing) and share bytes where possible. */
export const DEDUP_SETTLE_TOPIC = 'dedup.settle';
