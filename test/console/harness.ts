import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { AxeBuilder } from '@axe-core/playwright'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { startServerProcess, type ServerProcess } from '../helpers/processes.ts'

/**
 * The console's test harness: the real `storefront serve` process on a fresh embedded database
 * (PGlite), driven by Debian's Chromium through playwright-core. `.ci/run` installs `chromium`;
 * without /usr/bin/chromium (or CHROMIUM_PATH) the console suites are skipped with a message.
 */

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export const chromiumMissing = existsSync(CHROMIUM_PATH)
  ? false
  : `Chromium is not installed at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH): the console browser tests are skipped`

export interface ConsoleHarness {
  server: ServerProcess
  baseUrl: string
  dataDir: string
  /** The bootstrap operator key printed at first start. */
  operatorKey: string
  /** The one-time console sign-in link printed next to it. */
  signInLink: string
  browser: Browser
  /** A fresh browser profile (no cookies) at 1280x800 that records console errors. */
  newPage(options?: { width?: number; height?: number }): Promise<{ context: BrowserContext; page: Page; consoleErrors: string[] }>
  close(): Promise<void>
}

export async function startConsoleHarness(env: Record<string, string> = {}): Promise<ConsoleHarness> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'storefront-console-'))
  const server = await startServerProcess({ DATA_DIR: dataDir, ...env })
  const output = server.output()
  const key = /Bootstrap API key[^\n]*\n\s+(sf_\S+)/.exec(output)?.[1]
  const link = /One-time sign-in link[^\n]*\n\s+(http\S+)/.exec(output)?.[1]
  if (!key || !link) {
    await server.stop()
    throw new Error(`storefront serve printed no bootstrap key or console link:\n${output}`)
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  })
  const contexts: BrowserContext[] = []
  return {
    server,
    baseUrl: server.url,
    dataDir,
    operatorKey: key,
    signInLink: link,
    browser,
    async newPage(options = {}) {
      const context = await browser.newContext({ viewport: { width: options.width ?? 1280, height: options.height ?? 800 } })
      contexts.push(context)
      const page = await context.newPage()
      const consoleErrors: string[] = []
      page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()) })
      page.on('pageerror', (error) => consoleErrors.push(error.message))
      return { context, page, consoleErrors }
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => {})
      await browser.close().catch(() => {})
      await server.stop()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

/** axe-core's serious and critical violations on the page as it is now (WCAG 2.x A/AA rules). */
export async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()
  return results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.help} at ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`)
}

/** Signs a fresh page in by pasting an operator key. */
export async function signInWithKey(page: Page, baseUrl: string, key: string): Promise<void> {
  await page.goto(`${baseUrl}/console/sign-in`)
  await page.getByLabel('Operator API key').fill(key)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(/\/console\/sources$/)
}
