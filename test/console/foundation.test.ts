import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { chromiumMissing, seriousViolations, signInWithKey, startConsoleHarness, type ConsoleHarness } from './harness.ts'

describe('the operator console: signing in, sessions, CSRF and security headers', { skip: chromiumMissing }, () => {
  let h: ConsoleHarness

  before(async () => { h = await startConsoleHarness() })
  after(async () => { await h?.close() })

  it('npm start prints a one-time sign-in link that signs in once, and never again', async () => {
    const { page, consoleErrors } = await h.newPage()
    await page.goto(h.signInLink)
    assert.deepEqual(await seriousViolations(page), [])
    await page.getByRole('button', { name: 'Continue to the console' }).click()
    await page.waitForURL(/\/console\/sources$/)
    assert.match(await page.getByRole('status').innerText(), /Signed in to storefront default/)
    assert.ok(await page.getByRole('navigation', { name: 'Main' }).isVisible())

    const { page: second } = await h.newPage()
    await second.goto(h.signInLink)
    await second.getByRole('button', { name: 'Continue to the console' }).click()
    assert.match(await second.getByRole('alert').innerText(), /already used, has expired or is unknown/)
    assert.match(second.url(), /\/console\/sign-in\/link$/)
    assert.deepEqual(consoleErrors, [])
  })

  it('signs in with a pasted operator key; a buyer key and a wrong key are refused', async () => {
    const { page } = await h.newPage()
    await signInWithKey(page, h.baseUrl, h.operatorKey)
    await page.goto(`${h.baseUrl}/console/keys`)
    await page.getByLabel('Label').fill('agency buyer')
    await page.getByLabel('Role').selectOption('buyer')
    await page.getByRole('button', { name: 'Create key' }).click()
    const buyerKey = (await page.locator('#created-key').innerText()).trim()
    assert.match(buyerKey, /^sf_/)

    const { page: buyer } = await h.newPage()
    await buyer.goto(`${h.baseUrl}/console/sign-in`)
    await buyer.getByLabel('Operator API key').fill(buyerKey)
    const refused = buyer.waitForResponse((response) => response.request().method() === 'POST')
    await buyer.getByRole('button', { name: 'Sign in' }).click()
    assert.equal((await refused).status(), 403)
    assert.match(await buyer.getByRole('alert').innerText(), /buyer key/i)
    await buyer.goto(`${h.baseUrl}/console/sources`)
    assert.match(buyer.url(), /\/console\/sign-in$/, 'a refused buyer has no session')

    await buyer.getByLabel('Operator API key').fill('sf_not_a_real_key_0000000000')
    await buyer.getByRole('button', { name: 'Sign in' }).click()
    assert.match(await buyer.getByRole('alert').innerText(), /not a valid, unrevoked API key/)
  })

  it('refuses a forged POST without the session CSRF token, and a POST from another site carries no session', async () => {
    const { page, context } = await h.newPage()
    await signInWithKey(page, h.baseUrl, h.operatorKey)
    const before = await page.goto(`${h.baseUrl}/console/keys`)
    assert.equal(before?.status(), 200)
    const rowsBefore = await page.locator('tbody tr').count()

    const forged = await context.request.post(`${h.baseUrl}/console/keys`, { form: { role: 'operator', label: 'forged' } })
    assert.equal(forged.status(), 403)
    assert.match(await forged.text(), /CSRF token/)
    const wrongToken = await context.request.post(`${h.baseUrl}/console/keys`, { form: { role: 'operator', label: 'forged', _csrf: 'abc' } })
    assert.equal(wrongToken.status(), 403)

    // A page on another site submitting a form to the console, in the signed-in browser: the
    // SameSite=Strict cookie is not sent, so the console sees no session.
    const { page: attacker } = await h.newPage()
    await attacker.context().addCookies(await context.cookies())
    await attacker.goto('about:blank')
    await attacker.setContent(`<form method="post" action="${h.baseUrl}/console/keys"><input name="role" value="operator"><button>go</button></form>`)
    const [crossSite] = await Promise.all([attacker.waitForResponse((r) => r.url().endsWith('/console/keys')), attacker.click('button')])
    assert.equal(crossSite.status(), 401)
    await page.reload()
    assert.equal(await page.locator('tbody tr').count(), rowsBefore, 'no key was created')
  })

  it('sets an httpOnly, SameSite=Strict, expiring session cookie and a strict CSP', async () => {
    const { page, context } = await h.newPage()
    const response = await page.goto(`${h.baseUrl}/console/sign-in`)
    const headers = response!.headers()
    const csp = headers['content-security-policy'] ?? ''
    assert.match(csp, /script-src 'self'/)
    assert.match(csp, /style-src 'self'/)
    assert.match(csp, /frame-ancestors 'none'/)
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
    assert.equal(headers['x-content-type-options'], 'nosniff')
    await signInWithKey(page, h.baseUrl, h.operatorKey)
    const cookie = (await context.cookies()).find((c) => c.name === 'storefront_console')
    assert.ok(cookie, 'a session cookie is set')
    assert.equal(cookie.httpOnly, true)
    assert.equal(cookie.sameSite, 'Strict')
    assert.equal(cookie.path, '/console')
    assert.ok(cookie.expires > Date.now() / 1000 && cookie.expires < Date.now() / 1000 + 9 * 3600, 'expires within the session lifetime')
    assert.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read it')
  })

  it('signs out: the session ends and pages send you to sign in', async () => {
    const { page } = await h.newPage()
    await signInWithKey(page, h.baseUrl, h.operatorKey)
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.waitForURL(/\/console\/sign-in$/)
    await page.goto(`${h.baseUrl}/console/keys`)
    assert.match(page.url(), /\/console\/sign-in$/)
  })

  it('is keyboard-navigable and accessible at laptop and tablet widths', async () => {
    for (const width of [1280, 768]) {
      const { page, consoleErrors } = await h.newPage({ width, height: 1024 })
      await signInWithKey(page, h.baseUrl, h.operatorKey)
      await page.keyboard.press('Tab')
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content')
      await page.keyboard.press('Enter')
      for (const path of ['/console/sources', '/console/keys']) {
        await page.goto(`${h.baseUrl}${path}`)
        assert.deepEqual(await seriousViolations(page), [], `${path} at ${width}px`)
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
        assert.ok(overflow <= 0, `${path} fits ${width}px without sideways scrolling (overflow ${overflow}px)`)
      }
      assert.deepEqual(consoleErrors, [])
    }
  })
})
