// The public surface of media-buys/: other folders import it from here, never from its files (eslint.config.js).
export {
  advanceCreativeReadyBuys,
  isOpenForCreatives,
  livePackagesOfBuys,
  lockAssignablePackages,
  type AssignablePackage,
} from './creative-readiness.ts'
export { FLIGHT_MOVES, listBuysDueOnFlight, moveBuyAlongFlight } from './flight-status.ts'
export * from './media-buy-store.ts'
export * from './media-buy-rules.ts'
export * from './media-buy.schema.ts'
export * from './media-buy-statuses.ts'
export { MEDIA_BUY_STATUSES } from './media-buy-statuses.ts'
export { deleteSandboxMediaBuys, insertSeededMediaBuy, listBuyPackages, listKeyMediaBuys, setMediaBuyStatus } from './test-controller-store.ts'
