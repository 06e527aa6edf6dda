/** Outbox topics owned by the assets module. */
export const OBJECT_DELETE_TOPIC = 'object.delete';
