import { humanTask, setupField, stageContract, type ModuleContract } from '../../contract.ts'

/** The built-in avails feed: operators upload, paste or post avails; a human confirms each preview. */
export const agenticAvailsFeedContract: ModuleContract = {
  contractId: 'agentic.inventory-feed.avails',
  version: '1.0.0',
  moduleType: 'INVENTORY_FEED',
  provider: 'agentic',
  displayName: 'Avails feed',
  description: 'Normalizes avails from JSON, CSV or XLSX and upserts them by availId after an operator confirms the preview.',
  constraints: [
    'impressionsCapacity is net sellable capacity: upstream bookings are removed before the feed is committed.',
    'A feed never lowers an avail below its held plus booked impressions.',
  ],
  defaultModuleInstanceId: 'static-avails-feed',
  setupFields: [
    setupField({
      key: 'feedUrl',
      label: 'Feed URL',
      description: 'Where the seller publishes the avails file, for operators and a future scheduled pull.',
      valueType: 'URL',
    }),
    setupField({
      key: 'refreshCron',
      label: 'Refresh schedule',
      description: 'Cron expression of the expected feed refresh, e.g. "0 6 1 * *" for monthly.',
      valueType: 'CRON',
    }),
  ],
  stages: [
    stageContract({
      stage: 'INGEST_AVAILS',
      mode: 'AUTOMATED',
      description: 'Parse and normalize the feed, then upsert avails by availId.',
      outputKeys: ['avails'],
      runtimeInputs: ['ACTIVE_AVAILS'],
    }),
    stageContract({
      stage: 'CONFIRM_AVAILS',
      mode: 'HITL',
      description: 'An operator confirms the previewed rows and that capacity is net sellable before they are committed.',
      outputKeys: ['avails'],
      workItemKind: 'CONFIRM_AVAILS',
      taskContract: humanTask({
        taskId: 'confirm-avails',
        workItemKind: 'CONFIRM_AVAILS',
        requiredInputKeys: ['previewId'],
        outputKeys: ['avails'],
        operatorAction: {
          label: 'Confirm avails',
          instructions: 'Check row grain and net sellable capacity in the preview, then complete the work item to commit it.',
        },
      }),
    }),
  ],
}
