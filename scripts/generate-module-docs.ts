// Rewrites the generated module catalog table in docs/modules.md: `npx tsx scripts/generate-module-docs.ts`.
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { withModuleCatalog } from '../src/modules/catalog-doc.ts'
import { moduleCatalog } from '../src/modules/registry.ts'

const file = fileURLToPath(new URL('../docs/modules.md', import.meta.url))
const current = await readFile(file, 'utf8')
const next = withModuleCatalog(current, moduleCatalog)
if (next === current) {
  console.log('docs/modules.md is up to date')
} else {
  await writeFile(file, next)
  console.log('docs/modules.md updated')
}
