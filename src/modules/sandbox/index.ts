// The public surface of sandbox/: other folders import it from here, never from its files (eslint.config.js).
export { deactivateNonFixtureAvails, deleteSandboxSdkRows, ensureSeededFormat, findSandboxAvail, isTaskIdForcedByAnotherKey, listSandboxKeyIds, listSeededFormats, putCreateArm, takeCreateArm, upsertSeededFormat } from './sandbox-store.ts'
