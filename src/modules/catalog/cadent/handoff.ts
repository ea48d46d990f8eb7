import { resolveStageMode } from '../../contract.ts'
import { handoffPayload, plannedItem } from '../../handoff.ts'
import type { HandoffContext, HandoffPlan, ProviderDispatch } from '../../provider.ts'
import { renderCadentCampaignXml, targetsFromTargeting, type CadentCampaignInput } from './render-campaign-xml.ts'

function cadentInput(context: HandoffContext): CadentCampaignInput {
  const { reservation, avail, body, module } = context
  const config = module.row.config
  const flight = { startTime: avail.start_time.toISOString(), endTime: avail.end_time.toISOString() }
  return {
    mediaBuyId: reservation.media_buy_id,
    campaignName: body.campaignName,
    advertiserName: body.advertiserName,
    buyerCustomerId: context.buyerCustomerId,
    campaignDeliveryType: config.campaignDeliveryType as CadentCampaignInput['campaignDeliveryType'],
    flight,
    lines: [{
      reservationId: String(reservation.id),
      availId: avail.avail_id,
      collectionId: avail.collection_id,
      collectionName: avail.collection_name,
      impressions: reservation.requested_impressions,
      // The XML needs a rate; an avail without one is trafficked at 0 and priced in Cadent.
      cpm: avail.cpm ?? 0,
      currency: avail.currency,
      lineDeliveryType: config.lineDeliveryType as CadentCampaignInput['campaignDeliveryType'],
      adType: config.adType as CadentCampaignInput['lines'][number]['adType'],
      adClass: config.adClass as CadentCampaignInput['lines'][number]['adClass'],
      ...flight,
      targets: targetsFromTargeting(avail.targeting),
      creative: body.creative ? { ...body.creative, adId: body.creative.adId ?? null } : null,
    }],
  }
}

/** The TRAFFIC_TO_CADENT item: a person loads the XML into Cadent (also what a failed POST falls back to). */
export const trafficToCadentItem: ProviderDispatch['fallbackItem'] = (context, xml, endpointError) =>
  plannedItem(context.module, 'TRAFFIC_TO_CADENT', {
    title: `Traffic "${context.campaignName}" (${context.mediaBuyId}) in Cadent`,
    dueAt: context.avail.start_time,
    payload: {
      ...context.payload,
      cadentCampaignXml: xml,
      contentType: 'application/xml',
      ...(endpointError ? { endpointError } : {}),
    },
  })

/** Render the XML; POST it when an endpoint is configured, else a person traffics it. */
export function planCadentHandoff(context: HandoffContext): HandoffPlan {
  const xml = renderCadentCampaignXml(cadentInput(context))
  const trafficStage = context.module.contract.stages.find((stage) => stage.stage === 'TRAFFIC_CAMPAIGN')
  const automated = trafficStage !== undefined && resolveStageMode(trafficStage, context.module.row.config) === 'AUTOMATED'
  const payload = handoffPayload(context.reservation, context.avail, context.body)
  const items = []
  if (!automated) {
    items.push(trafficToCadentItem({ ...context, payload, campaignName: context.body.campaignName, mediaBuyId: context.reservation.media_buy_id }, xml, null))
  }
  if (context.body.creative) {
    items.push(plannedItem(context.module, 'MAP_CREATIVE_REF', {
      title: `Map the creative of "${context.body.campaignName}" (${context.reservation.media_buy_id}) to a Cadent creative`,
      dueAt: context.avail.start_time,
      payload: { ...payload, creative: context.body.creative },
    }))
  }
  return { traffickingPayload: xml, dispatchTo: automated ? String(context.module.row.config.cadentEndpointUrl) : null, items }
}
