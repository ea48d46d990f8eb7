import assert from 'node:assert/strict'
import path from 'node:path'
import { describe, it } from 'node:test'
import { ConfigError, loadConfig } from '../src/config.ts'

describe('loadConfig', () => {
  it('runs on the embedded database with the documented defaults when nothing is set', () => {
    const config = loadConfig({})
    assert.equal(config.databaseUrl, undefined)
    assert.equal(config.dataDir, path.resolve('./data'))
    assert.equal(config.port, 3000)
    assert.equal(config.host, '127.0.0.1')
    assert.equal(config.databasePoolSize, 10)
    assert.equal(config.databasePreparedStatements, true)
  })

  it('reads an empty variable as not set', () => {
    const config = loadConfig({ DATABASE_URL: '', PORT: '' })
    assert.equal(config.databaseUrl, undefined)
    assert.equal(config.port, 3000)
  })

  it('turns prepared statements off only with DATABASE_PREPARED_STATEMENTS=off', () => {
    assert.equal(loadConfig({ DATABASE_PREPARED_STATEMENTS: 'off' }).databasePreparedStatements, false)
    assert.equal(loadConfig({ DATABASE_PREPARED_STATEMENTS: 'on' }).databasePreparedStatements, true)
  })

  it('refuses a value it does not know, naming the variable', () => {
    assert.throws(() => loadConfig({ DATABASE_PREPARED_STATEMENTS: 'false' }), (error: unknown) =>
      error instanceof ConfigError && /DATABASE_PREPARED_STATEMENTS/.test(error.message))
    assert.throws(() => loadConfig({ DATABASE_POOL_SIZE: '0' }), (error: unknown) =>
      error instanceof ConfigError && /DATABASE_POOL_SIZE/.test(error.message))
    assert.throws(() => loadConfig({ DATABASE_URL: 'mysql://db/storefront' }), (error: unknown) =>
      error instanceof ConfigError && /DATABASE_URL: must be a postgres:\/\/ URL/.test(error.message))
  })

  it('names every invalid variable at once', () => {
    assert.throws(() => loadConfig({ PORT: '70000', LOG_LEVEL: 'loud' }), (error: unknown) =>
      error instanceof ConfigError && /PORT/.test(error.message) && /LOG_LEVEL/.test(error.message))
  })
})
