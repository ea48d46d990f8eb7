import js from '@eslint/js'
import tseslint from 'typescript-eslint'

// Dependencies point one way: entry points -> workflows -> domain modules -> db, shared.
const entryPoints = ['src/http/**', 'src/cli/**', 'src/mcp/**', 'src/console/**']

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
    files: entryPoints,
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/db/*', '!**/db/database.ts'], message: 'Entry points never touch SQL: call a workflow or a module service.' },
          { group: ['kysely', 'pg'], message: 'Entry points never touch SQL.' },
        ],
      }],
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
