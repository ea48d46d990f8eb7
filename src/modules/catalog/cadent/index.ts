import { bookReservation, storeBookingRef } from '../../execution/index.ts'
import type { Provider } from '../../provider.ts'
import { cadentTraffickingContract } from './contract.ts'
import { cadentCreativeFormats } from './creative-formats.ts'
import { cadentDispatch } from './dispatch.ts'
import { planCadentHandoff } from './handoff.ts'
import { cadentProductBlock } from './product-block.ts'

/** Addressable-TV trafficking in Cadent: render the campaign XML, POST it or hand it to a person. */
export const cadentProvider: Provider = {
  contract: cadentTraffickingContract,
  planHandoff: planCadentHandoff,
  dispatch: cadentDispatch,
  handOffKinds: ['TRAFFIC_TO_CADENT'],
  extraWorkItemKinds: ['RESOLVE_TRAFFICKING_ERROR'],
  completionEffects: {
    TRAFFIC_TO_CADENT: bookReservation('cadentCampaignId'),
    // The broadcast-system creative reference is kept on the booking.
    MAP_CREATIVE_REF: storeBookingRef('creativeRef'),
  },
  productBlock: cadentProductBlock,
  creativeFormats: cadentCreativeFormats,
}
