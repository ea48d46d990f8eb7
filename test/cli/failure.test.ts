import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { exitCodeOf, reportFailure } from '../../src/cli/failure.ts'
import { CliUsageError } from '../../src/cli/http-client.ts'

describe('the CLI failure map', () => {
  it('knows a usage error by its name, as the bundled CLI and the tsx-loaded verbs hold different copies of the class', () => {
    assert.equal(new CliUsageError('x').name, 'CliUsageError')
    assert.equal(exitCodeOf(new CliUsageError('needs --storefront <name>')), 2)
    // Another copy of the class, as src/cli/http-client.ts loaded through tsx is to the bundled one.
    class OtherCopy extends Error {
      override readonly name = 'CliUsageError'
    }
    assert.equal(exitCodeOf(new OtherCopy('needs --storefront <name>')), 2)
    const printed: unknown[] = []
    const original = console.error
    console.error = (...args: unknown[]) => { printed.push(...args) }
    try {
      assert.equal(reportFailure(new OtherCopy('needs --storefront <name>'), 'storefront keys create'), 2)
    } finally {
      console.error = original
    }
    assert.deepEqual(printed, ['storefront keys create: needs --storefront <name> (see storefront keys create --help)'])
    assert.equal(exitCodeOf(new Error('anything else')), 1)
  })
})
