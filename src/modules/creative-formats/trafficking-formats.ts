import type { ModuleInstanceRow } from '../../db/tables.ts'
import { findProvider } from '../registry.ts'
import type { SpotFormat } from './spot-formats.ts'

/**
 * The creative formats a source's trafficking module can really carry, as data: each provider
 * says which (`Provider.creativeFormats`, e.g. catalog/cadent/creative-formats.ts). A provider
 * that names none (the manual module) lists none: a format is listed only when a module says it
 * can carry it.
 */

export { SPOT_LENGTHS_SECONDS, spotFormats, type SpotFormat, type SpotKind } from './spot-formats.ts'

/** The formats of one ACTIVE trafficking module; [] when its provider declares none. */
export function formatsOfTraffickingModule(module: Pick<ModuleInstanceRow, 'provider' | 'config'> | undefined): SpotFormat[] {
  if (!module) return []
  return findProvider('TRAFFICKING', module.provider)?.creativeFormats?.(module.config) ?? []
}
