import js from '@eslint/js'
import tseslint from 'typescript-eslint'

// Dependencies point one way: entry points -> workflows -> domain modules -> db, shared.
const entryPoints = ['src/http/**', 'src/cli/**', 'src/mcp/**', 'src/console/**']

// Workflows hold no SQL: no kysely at all (its `sql` template included) and only types from src/db.
const workflowSqlPatterns = [
  { group: ['kysely', 'kysely/*', 'pg'], message: 'Workflows hold no SQL: add a function to the store of the module that owns the table.' },
  { group: ['**/db/*'], allowTypeImports: true, message: 'Workflows import only types from src/db: the statements belong in a module store.' },
]

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
    files: ['src/modules/**', 'src/sources/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/workflows/*', '**/http/*', '**/cli/*', '**/mcp/*', '**/console/*'], message: 'Domain modules never import workflows or entry points.' },
        ],
      }],
    },
  },
)
