import path from 'node:path'
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

// Dependencies point one way: entry points -> workflows -> domain modules -> db, shared.
const entryPoints = ['src/http/**', 'src/cli/**', 'src/mcp/**', 'src/console/**']

// Workflows hold no SQL: no kysely at all (its `sql` template included) and only types from src/db.
const workflowSqlPatterns = [
  { group: ['kysely', 'kysely/*', 'pg'], message: 'Workflows hold no SQL: add a function to the store of the module that owns the table.' },
  { group: ['**/db/*'], allowTypeImports: true, message: 'Workflows import only types from src/db: the statements belong in a module store.' },
]

// A folder of src/modules/ is a module, and so is each provider folder under catalog/; the files
// at the top of src/modules/ (contract, registry, provider, handoff) are the frame they plug into.
// Anything outside a module imports it through its index.ts, so what it offers is one list and
// its other files can change freely.
const modulesRoot = path.join(import.meta.dirname, 'src', 'modules')

function moduleOf(file) {
  const parts = path.relative(modulesRoot, file).split(path.sep)
  if (parts[0] === '..' || parts.length < 2) return undefined
  return parts[0] === 'catalog' && parts.length > 2 ? path.join('catalog', parts[1]) : parts[0]
}

const moduleBoundaries = {
  meta: { type: 'problem', schema: [], messages: { deep: "Import {{module}} through its public index.ts ('{{index}}'), not {{file}}." } },
  create(context) {
    const importer = moduleOf(context.filename)
    function check(node) {
      const specifier = node?.type === 'Literal' ? node.value : undefined
      if (typeof specifier !== 'string' || !specifier.startsWith('.')) return
      const target = path.resolve(path.dirname(context.filename), specifier)
      const module = moduleOf(target)
      if (!module || module === importer) return
      const index = path.join(modulesRoot, module, 'index.ts')
      if (target === index) return
      const relativeIndex = path.relative(path.dirname(context.filename), index)
      context.report({ node, messageId: 'deep', data: { module: `src/modules/${module}`, index: relativeIndex.startsWith('.') ? relativeIndex : `./${relativeIndex}`, file: specifier } })
    }
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
    }
  },
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', '.data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // Types of the schema are fine (a handler may name a Queryable); values of src/db are SQL.
    files: entryPoints,
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/db/*'], allowTypeImports: true, message: 'Entry points never touch SQL: call a workflow or a module service.' },
          { group: ['kysely', 'kysely/*', 'pg'], message: 'Entry points never touch SQL.' },
        ],
      }],
    },
  },
  {
    // A workflow composes store calls in one transaction; the statements live in the store that owns the table.
    files: ['src/workflows/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: workflowSqlPatterns }],
    },
  },
  {
    // Tests may reach into a module to pin one file's behaviour.
    files: ['src/**'],
    plugins: { storefront: { rules: { 'module-boundaries': moduleBoundaries } } },
    rules: { 'storefront/module-boundaries': 'error' },
  },
  {
    files: ['src/modules/**', 'src/sources/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/workflows/*', '**/http/*', '**/cli/*', '**/mcp/*', '**/console/*'], message: 'Domain modules never import workflows or entry points.' },
        ],
      }],
    },
  },
  {
    // src/sources builds on the domain modules (source-status, readiness…), never the other way round.
    files: ['src/modules/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/workflows/*', '**/http/*', '**/cli/*', '**/mcp/*', '**/console/*'], message: 'Domain modules never import workflows or entry points.' },
          // source-store is the one lookup of a source row, which modular-sources shares (to be moved down).
          { group: ['**/sources/*', '!**/sources/source-store.ts'], message: 'Domain modules never import src/sources: it depends on them.' },
        ],
      }],
    },
  },
)
