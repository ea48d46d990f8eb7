/** Every status a stored media buy can have: 'submitted' (its AdCP task is open), then the AdCP 3.0.6 ones. */
export const MEDIA_BUY_STATUSES = ['submitted', 'pending_creatives', 'pending_start', 'active', 'paused', 'completed', 'rejected', 'canceled'] as const
