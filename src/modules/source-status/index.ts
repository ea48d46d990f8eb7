// The public surface of source-status/: other folders import it from here, never from its files (eslint.config.js).
export {
  computeModularStatus,
  loadModularStatusInput,
  SourceStatusSchema,
  type SourceStatus,
} from './modular-status.ts'
