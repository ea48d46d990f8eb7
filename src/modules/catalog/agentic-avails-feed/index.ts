import { fail, StorefrontError } from '../../../shared/errors.ts'
import type { CompletionContext, Provider } from '../../provider.ts'
import { agenticAvailsFeedContract } from './contract.ts'

/** CONFIRM_AVAILS: commit exactly the rows of the preview the item was opened for. */
async function commitConfirmedAvails(context: CompletionContext): Promise<Record<string, unknown>> {
  const previewId = context.item.payload.previewId ?? context.result.previewId
  if (typeof previewId !== 'string' || previewId.length === 0) {
    throw fail.conflict('PREVIEW_NOT_FOUND', `Work item ${context.item.id} names no avails preview`)
  }
  if (!context.commitAvailsPreview) {
    throw new StorefrontError('INTERNAL_ERROR', 'The avails feed cannot commit previews in this build')
  }
  return context.commitAvailsPreview(context.trx, { source: context.source, previewId, workItemId: context.item.id, actor: context.actor, now: context.now })
}

export const agenticAvailsFeedProvider: Provider = {
  contract: agenticAvailsFeedContract,
  completionEffects: { CONFIRM_AVAILS: commitConfirmedAvails },
}
