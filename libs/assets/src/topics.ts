/** Outbox topics owned by the assets module. */
export const OBJECT_DELETE_TOPIC = 'object.delete';
/** Asset events (asset-events.ts), fanned out to subscribers registered with AssetEventsService.subscribe. */
export const ASSET_EVENT_TOPIC = 'asset.event';
