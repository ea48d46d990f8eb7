// The public surface of buyer-accounts/: other folders import it from here, never from its files (eslint.config.js).
export {
  ACCOUNTS_MAX_LIMIT,
  findAccountByBrand,
  findAccountById,
  listAccounts,
  upsertAccount,
  type AccountInput,
  type AccountOwner,
} from './account-store.ts'
export { deleteSandboxAccounts, setSandboxAccountStatus } from './account-store.ts'
