/** The creative library of the AdCP buyer surface: a buyer key's creatives and their package assignments. */
export {
  CREATIVES_MAX_LIMIT,
  insertCreative,
  listCreatives,
  lockCreatives,
  packagesWithServableCreative,
  removeAssignmentsExcept,
  setCreativeStatus,
  updateCreative,
  upsertAssignment,
  type CreativeContent,
  type CreativeListFilter,
  type CreativeOwner,
} from './creative-store.ts'
export { CREATIVE_STATUSES, isLegalCreativeTransition, statusAfterSync } from './creative-status.ts'
