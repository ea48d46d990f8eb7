// The public surface of avails-feed/: other folders import it from here, never from its files (eslint.config.js).
export { noTvTerms, type NormalizedAvail, type RowError, type RowWarning } from './avail.schema.ts'
export { findFlooredRows, previewFeed, upsertAvails, writeFeed } from './avails-store.ts'
export {
  AvailsFeedJsonBodySchema,
  AvailsFeedQuerySchema,
  AvailsFeedResponseSchema,
  AvailsFeedUploadSchema,
  parseFeedOptions,
  parseJsonEnvelope,
  type AvailsFeedOptions,
  type AvailsFeedResponse,
} from './feed-request.schema.ts'
export { feedColumnsOf, type FeedColumn, type FeedInput } from './parse-feed.ts'
export {
  computePreviewDiff,
  deletePreview,
  dropPreviewRows,
  findEndedRows,
  findPreviewForUpdate,
  findPreviewWorkItemId,
  finishPreview,
  markPreviewCommitted,
  MAX_REPORTED_ISSUES,
  previewRowToAvail,
  readPreviewRows,
  supersedePendingPreviews,
  type FlooredRow,
  type InputSource,
  type PreviewDiff,
} from './preview-store.ts'
export { AVAILS_ECHO_LIMIT, stageFeed, type StagedFeed } from './stage-feed.ts'
