// Rewrites the generated module catalog tables in docs/modules.md and README.md:
// `npx tsx scripts/generate-module-docs.ts`.
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { withModuleCatalog } from '../src/modules/catalog-doc.ts'
import { moduleCatalog } from '../src/modules/registry.ts'

for (const name of ['docs/modules.md', 'README.md']) {
  const file = fileURLToPath(new URL(`../${name}`, import.meta.url))
  const current = await readFile(file, 'utf8')
  const next = withModuleCatalog(current, moduleCatalog)
  if (next === current) {
    console.log(`${name} is up to date`)
  } else {
    await writeFile(file, next)
    console.log(`${name} updated`)
  }
}
