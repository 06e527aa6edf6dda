/** Where Bull Board is mounted (admin role required; see bull-board.guard.ts). */
export const BULL_BOARD_ROUTE = '/admin/queues';
/** The Prometheus scrape endpoint. */
export const METRICS_ROUTE = '/metrics';
/** Route label of requests that matched no route (one label, so random URLs cannot grow the series). */
export const UNMATCHED_ROUTE = 'unmatched';
/** Queue states reported by media_queue_jobs. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
