// The public surface of modular-sources/: other folders import it from here, never from its files (eslint.config.js).
export {
  AttachModuleSchema,
  CadentDemoRequestSchema,
  CreateFeedSourceSchema,
  DEMO_SOURCE_ID,
  ModuleParamsSchema,
  UpdateModuleConfigSchema,
  type CadentDemoRequest,
  type CreateFeedSource,
} from './modular.schema.ts'
export {
  attachModule,
  clearModuleError,
  findActiveModule,
  findActiveModules,
  findActiveModulesOfSources,
  findModularSourceRow,
  findModuleById,
  findSourceRowById,
  insertModularSource,
  listActiveModularSources,
  markModuleChecked,
  recordModuleError,
  refuseSecrets,
  removeModule,
  updateModuleConfig,
  type ActiveModule,
  type AttachModuleInput,
  type UpdateModuleConfigInput,
} from './module-store.ts'
export { findSandboxSource } from './module-store.ts'
