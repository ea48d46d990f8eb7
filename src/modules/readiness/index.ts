// The public surface of readiness/: other folders import it from here, never from its files (eslint.config.js).
export { FinalizeResponseSchema, type FinalizeResponse } from './finalize-response.schema.ts'
export { computeProjection, type ProjectionInput } from './compute-projection.ts'
export { loadProjection, loadProjectionInput } from './load-projection.ts'
export {
  ModularSourceCreatedSchema,
  RuntimeProjectionSchema,
  type ModularSourceCreated,
  type ProjectionIssue,
  type RuntimeProjection,
} from './projection.schema.ts'
