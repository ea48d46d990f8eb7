import type { ProviderDispatch } from '../../provider.ts'
import { DEFAULT_CADENT_TIMEOUT_MS, postCadentCampaign } from './endpoint.ts'
import { trafficToCadentItem } from './handoff.ts'

/**
 * The automated Cadent hand-off: the campaign XML is POSTed to the module's cadentEndpointUrl
 * with the booking's Idempotency-Key (endpoint.ts: timeout, one retry while undelivered); a 2xx
 * books the line with its cadentCampaignId, anything else hands it to a person.
 */
export const cadentDispatch: ProviderDispatch = {
  actor: { type: 'SYSTEM', id: 'cadent-endpoint' },
  timeoutMs: DEFAULT_CADENT_TIMEOUT_MS,
  async send(url, xml, options) {
    const outcome = await postCadentCampaign(url, xml, options)
    return outcome.ok ? { ok: true, httpStatus: outcome.httpStatus, reference: outcome.campaignId, attempts: outcome.attempts } : outcome
  },
  targetOf: (config) => (typeof config.cadentEndpointUrl === 'string' ? config.cadentEndpointUrl : null),
  describeTarget: '(the Cadent endpoint)',
  lostAnswerHint: (key) => `check Cadent for a campaign sent with Idempotency-Key ${key} before trafficking it`,
  referenceKey: 'cadentCampaignId',
  fallbackItem: trafficToCadentItem,
  healthItem: (module, error) => ({
    title: `Cadent endpoint of module ${module.module_instance_id} failed`,
    description: 'Bookings fall back to TRAFFIC_TO_CADENT work items meanwhile. Check the endpoint and the module config, then complete this item to clear the error.',
    payload: { moduleInstanceId: module.module_instance_id, cadentEndpointUrl: module.config.cadentEndpointUrl ?? null, error },
  }),
  orphanItem: (booking, campaignId) => ({
    kind: 'RESOLVE_TRAFFICKING_ERROR',
    title: `Remove campaign ${campaignId ?? `for ${booking.media_buy_id}`} from Cadent: its reservation was ${booking.status === 'EXPIRED' ? 'expired' : 'released'}`,
    description: 'The Cadent endpoint accepted the campaign after the reservation was released or expired. Remove or pause it in Cadent, then complete this item.',
  }),
}
