import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { AxeResults, RunOptions } from 'axe-core';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { repoRoot } from '../scripts/stack.ts';

/**
 * The browser tests drive the machine's Chromium (Debian's package `chromium`; CI installs it)
 * with playwright-core, which never downloads a browser. Without one they fail, saying how to get
 * one: a browser test that passes without a browser would prove nothing. SKIP_BROWSER_TESTS=1
 * skips them knowingly (and says so); CI never sets it.
 */
export const chromiumPath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const skipBrowserTests = process.env['SKIP_BROWSER_TESTS'] === '1';
if (skipBrowserTests) process.stderr.write('\nSKIP_BROWSER_TESTS=1: the browser tests (e2e/dashboard.e2e.ts) are skipped.\n\n');

/** Screenshots of every page, kept after the run (gitignored). */
export const artifactsDir = join(repoRoot, 'e2e/artifacts/dashboard');

// Chromium as the machine's notes say: no sandbox (root), no GPU, nothing fetched in the background
// (the closed network refuses it, many connections at a time).
const flags = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `No Chromium at ${chromiumPath}: the browser tests need one. Install it with \`apt-get update && apt-get install -y chromium\` (.ci/run does), or set CHROMIUM_PATH to a Chromium or Chrome binary; SKIP_BROWSER_TESTS=1 skips these tests instead.`,
    );
  }
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: flags });
}

/**
 * A laptop-sized page (1366 x 768, UTC) that records what a test must not see: requests leaving
 * this machine (the dashboard and the IDE work offline), console errors (a refused script, a CSP
 * violation) and uncaught exceptions.
 */
export async function openPage(browser: Browser): Promise<{ context: BrowserContext; page: Page; offMachine: string[]; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, timezoneId: 'UTC', locale: 'en-US' });
  const page = await context.newPage();
  const offMachine: string[] = [];
  const errors: string[] = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (!['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol)) return;
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) offMachine.push(request.url());
  });
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(`${error.name}: ${error.message}`));
  return { context, page, offMachine, errors };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(artifactsDir, { recursive: true });
  const path = join(artifactsDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

const axeSource = readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const axeOptions: RunOptions = {
  runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
};

/**
 * What axe-core (Deque's accessibility engine: WCAG 2.2 A and AA rules, contrast included) finds
 * wrong on the page as it is now. It is evaluated through the DevTools protocol, which the page's
 * Content-Security-Policy does not govern, so the page keeps its own policy.
 */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  await page.evaluate(await axeSource);
  const results = await page.evaluate(
    (options) =>
      (globalThis as unknown as { axe: { run(context: Document, options: RunOptions): Promise<AxeResults> } }).axe.run(document, options),
    axeOptions,
  );
  return results.violations.map(
    (v) =>
      `${v.id} (${v.impact ?? 'unknown'}): ${v.help}: ${v.nodes
        .slice(0, 3)
        .map((n) => n.target.join(' '))
        .join('; ')}`,
  );
}
