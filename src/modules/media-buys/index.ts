// The public surface of media-buys/: other folders import it from here, never from its files (eslint.config.js).
export {
  advanceCreativeReadyBuys,
  isOpenForCreatives,
  livePackagesOfBuys,
  lockAssignablePackages,
  type AssignablePackage,
} from './creative-readiness.ts'
