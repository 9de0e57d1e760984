// End-to-end test of Herald's portal in headless Chromium, run with node's own test runner:
//   HERALD_E2E_URL=http://127.0.0.1:3000 node --test
// Needs a running herald with at least one advisory visible to anonymous viewers. Uses Debian's
// /usr/bin/chromium (override with HERALD_E2E_CHROMIUM); screenshots go to end2end/test-results/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = (process.env.HERALD_E2E_URL ?? '').replace(/\/+$/, '');
const CHROMIUM = process.env.HERALD_E2E_CHROMIUM ?? '/usr/bin/chromium';
const RESULTS = fileURLToPath(new URL('../test-results/', import.meta.url));
const ROW = '[data-testid="advisory-row"]';
const FILTER = '[data-testid="advisory-filter"]';

let browser;

before(async () => {
  assert.ok(BASE, 'HERALD_E2E_URL must be the base URL of a running herald, e.g. http://127.0.0.1:3000');
  mkdirSync(RESULTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
});

/** Every Content-Security-Policy violation any page of this run reported. */
const CSP_VIOLATIONS = [];

/**
 * A page that records uncaught errors (a Wasm panic or hydration failure lands there) and
 * Content-Security-Policy violations (the console message Chromium prints for each, and the
 * `securitypolicyviolation` event, which catches blocked evals and inline scripts too).
 */
async function newPage(options = {}) {
  const context = await browser.newContext(options);
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
    });
  });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(String(error)));
  page.on('console', (message) => {
    if (/Content Security Policy|CSP violation/i.test(message.text())) {
      CSP_VIOLATIONS.push(`${page.url()}: ${message.text()}`);
    }
  });
  return page;
}

/** Tracking id, title, CVEs and full text of every row on the list page. */
async function readRows(page) {
  return page.locator(ROW).evaluateAll((rows) =>
    rows.map((row) => ({
      trackingId: row.dataset.trackingId,
      title: row.querySelector('.advisory-title')?.textContent?.trim() ?? '',
      cves: [...row.querySelectorAll('.cves li')].map((li) => li.textContent.trim()),
      text: row.textContent.toLowerCase(),
      hidden: row.hidden,
    })),
  );
}

test('list filters as you type once hydrated, and the detail page shows the advisory', { timeout: 120_000 }, async () => {
  const page = await newPage();
  const response = await page.goto(`${BASE}/advisories`);
  assert.equal(response.status(), 200, 'GET /advisories');
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });

  const rows = await readRows(page);
  assert.ok(rows.length >= 1, 'the list shows at least one advisory');
  assert.ok(rows.every((r) => !r.hidden), 'nothing is hidden before typing');

  // A marker on window survives only if no page load happens while filtering.
  await page.evaluate(() => { window.__heraldNoReload = true; });
  const urlBefore = page.url();

  // Pick the advisory to open: one with a CVE if there is one.
  const target = rows.find((r) => r.cves.length > 0) ?? rows[0];
  const term = target.trackingId;
  await page.fill(FILTER, term);
  await page.waitForFunction(
    ({ row, term }) => [...document.querySelectorAll(row)]
      .every((r) => r.hidden === !r.textContent.toLowerCase().includes(term.toLowerCase())),
    { row: ROW, term },
  );
  const filtered = await readRows(page);
  const visible = filtered.filter((r) => !r.hidden);
  assert.ok(visible.some((r) => r.trackingId === target.trackingId), 'the advisory typed for stays visible');
  assert.ok(visible.every((r) => r.text.includes(term.toLowerCase())), 'every visible row matches');
  await page.screenshot({ path: `${RESULTS}list-filtered.png`, fullPage: true });

  await page.fill(FILTER, 'zz-no-such-advisory-zz');
  await page.waitForFunction((row) => [...document.querySelectorAll(row)].every((r) => r.hidden), ROW);
  assert.match(await page.textContent('[data-testid="advisory-count"]'), /Showing 0 of \d+/);

  await page.fill(FILTER, '');
  await page.waitForFunction((row) => [...document.querySelectorAll(row)].every((r) => !r.hidden), ROW);
  assert.equal(page.url(), urlBefore, 'filtering does not change the address');
  assert.equal(await page.evaluate(() => window.__heraldNoReload), true, 'filtering did not reload the page');

  // Open the advisory through its link.
  const row = page.locator(`${ROW}[data-tracking-id="${target.trackingId.replace(/"/g, '\\"')}"]`);
  await row.locator('a').first().click();
  await page.waitForURL(/\/advisories\/[^/?]+/);
  const title = page.locator('[data-testid="advisory-title"]');
  await title.waitFor();
  assert.equal((await title.textContent()).trim(), target.title);
  assert.equal((await page.textContent('[data-testid="tracking-id"]')).trim(), target.trackingId);
  const cves = (await page.locator('[data-testid="cve"]').allTextContents()).map((t) => t.trim());
  for (const cve of target.cves) {
    assert.ok(cves.includes(cve), `${cve} is shown on the advisory page (found ${cves.join(', ')})`);
  }
  assert.equal(await page.evaluate(() => window.__heraldNoReload), true, 'the link navigated inside the app');
  const json = page.locator('[data-testid="downloads"] a').first();
  assert.match(await json.getAttribute('href'), /\.json$/);
  await page.screenshot({ path: `${RESULTS}advisory-detail.png`, fullPage: true });

  assert.deepEqual(page.errors, [], 'no uncaught errors in the page');
  await page.context().close();
});

test('filters and sort navigate without a reload once hydrated, and links keep the query', { timeout: 120_000 }, async () => {
  const page = await newPage();
  await page.goto(`${BASE}/advisories`);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
  const all = await readRows(page);
  await page.evaluate(() => { window.__heraldNoReload = true; });

  await page.selectOption('[data-testid="filter-sort"]', 'oldest');
  await Promise.all([page.waitForURL(/[?&]sort=oldest/), page.click('[data-testid="advisory-search"]')]);
  await page.waitForFunction(
    ({ row, first }) => document.querySelector(row)?.dataset.trackingId === first,
    { row: ROW, first: all[all.length - 1].trackingId },
  );
  const oldest = await readRows(page);
  assert.deepEqual(oldest.map((r) => r.trackingId), all.map((r) => r.trackingId).reverse(), 'oldest first');
  assert.equal(await page.evaluate(() => window.__heraldNoReload), true, 'the form navigated inside the app');
  assert.equal(await page.inputValue('[data-testid="filter-sort"]'), 'oldest');

  // A bad date answers with a message naming the field, and the form stays usable.
  await page.goto(`${BASE}/advisories?from=2026-02-30`);
  assert.match(await page.textContent('main'), /from must be a date/);
  assert.deepEqual(page.errors, [], 'no uncaught errors in the page');
  await page.context().close();
});

test('list and detail pages work with JavaScript disabled', { timeout: 120_000 }, async () => {
  const page = await newPage({ javaScriptEnabled: false });
  await page.goto(`${BASE}/advisories`);
  assert.equal(await page.getAttribute('body', 'data-hydrated'), null, 'no script ran');

  const rows = await readRows(page);
  assert.ok(rows.length >= 1, 'the server rendered the advisories');
  const target = rows[0];

  // The search box is a plain GET form: Enter reloads the page with ?q=.
  await page.fill(FILTER, target.trackingId);
  await Promise.all([page.waitForURL(/[?&]q=/), page.press(FILTER, 'Enter')]);
  assert.equal(new URL(page.url()).searchParams.get('q'), target.trackingId);
  assert.equal(await page.inputValue(FILTER), target.trackingId, 'the box keeps the query');
  const found = await readRows(page);
  assert.ok(found.some((r) => r.trackingId === target.trackingId), 'the server search finds the advisory');

  await page.fill(FILTER, 'zz-no-such-advisory-zz');
  await Promise.all([page.waitForURL(/q=zz-no-such/), page.press(FILTER, 'Enter')]);
  assert.equal(await page.locator(ROW).count(), 0);
  await page.locator('[data-testid="advisory-empty"]').waitFor();
  await page.screenshot({ path: `${RESULTS}list-no-js.png`, fullPage: true });

  // The detail page is fully rendered on the server too.
  await page.goto(`${BASE}/advisories`);
  await page.locator(`${ROW} a`).first().click();
  await page.waitForURL(/\/advisories\/[^/?]+/);
  assert.equal((await page.textContent('[data-testid="advisory-title"]')).trim(), target.title);

  const missing = await page.goto(`${BASE}/advisories/NO-SUCH-ADVISORY-E2E`);
  assert.equal(missing.status(), 404, 'an unknown advisory answers 404');
  await page.context().close();
});

test('sign-in refuses wrong credentials with a message', { timeout: 120_000 }, async () => {
  const page = await newPage();
  await page.goto(`${BASE}/login`);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
  await page.fill('#login-email', 'nobody@e2e.invalid');
  await page.fill('#login-password', 'not-the-password');
  await page.click('.login-form button[type="submit"]');
  await page.locator('[data-testid="login-error"]').waitFor();
  assert.match(await page.textContent('[data-testid="login-error"]'), /email address or password is not right/);
  assert.equal(await page.locator('[data-testid="viewer"]').count(), 0, 'nobody is signed in');
  const cookies = await page.context().cookies();
  assert.ok(!cookies.some((c) => c.name === 'herald_session' && c.value), 'no session cookie');
  await page.screenshot({ path: `${RESULTS}login-refused.png`, fullPage: true });
  assert.deepEqual(page.errors, [], 'no uncaught errors in the page');
  await page.context().close();
});

const EMAIL = process.env.HERALD_E2E_EMAIL;
const PASSWORD = process.env.HERALD_E2E_PASSWORD;

test('signs in and out', {
  timeout: 120_000,
  skip: !(EMAIL && PASSWORD) && 'set HERALD_E2E_EMAIL and HERALD_E2E_PASSWORD to test signing in',
}, async () => {
  const page = await newPage();
  await page.goto(`${BASE}/login`);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
  await page.fill('#login-email', EMAIL);
  await page.fill('#login-password', PASSWORD);
  await page.click('.login-form button[type="submit"]');
  await page.waitForURL(/\/advisories$/);
  await page.locator('[data-testid="viewer"]').waitFor();
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'herald_session');
  assert.ok(session, 'the session cookie is set');
  assert.equal(session.httpOnly, true, 'the session cookie is HttpOnly');
  assert.equal(session.sameSite, 'Lax');

  await page.click('[data-testid="sign-out"]');
  await page.locator('.site-nav a[href="/login"]').waitFor();
  assert.equal(await page.locator('[data-testid="viewer"]').count(), 0, 'signed out');
  assert.deepEqual(page.errors, [], 'no uncaught errors in the page');
  await page.context().close();
});

const PUBLISHER_EMAIL = process.env.HERALD_E2E_PUBLISHER_EMAIL;
const PUBLISHER_PASSWORD = process.env.HERALD_E2E_PUBLISHER_PASSWORD;

test('a publisher writes an advisory in the form and publishes it', {
  timeout: 180_000,
  skip: !(PUBLISHER_EMAIL && PUBLISHER_PASSWORD)
    && 'set HERALD_E2E_PUBLISHER_EMAIL and HERALD_E2E_PUBLISHER_PASSWORD to test authoring',
}, async () => {
  const page = await newPage();
  await page.goto(`${BASE}/login`);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
  await page.fill('#login-email', PUBLISHER_EMAIL);
  await page.fill('#login-password', PUBLISHER_PASSWORD);
  await page.click('.login-form button[type="submit"]');
  await page.waitForURL(/\/advisories$/);
  await page.click('.site-nav a[href="/authoring"]');
  await page.waitForURL(/\/authoring$/);
  await page.click('[data-testid="new-draft"]');
  await page.waitForURL(/\/authoring\/[^/?#]+/);

  const title = `E2E authored advisory ${Date.now()}`;
  await page.fill('#f-title', title);
  await page.fill('#f-summary', 'Written in the browser by the end-to-end test.');
  // One of the manufacturer's own products (the catalog also holds imported vendors' ones).
  await page.locator('fieldset[data-field="product_ids"] label', { hasText: 'Meridian FlowSure 300' })
    .first().locator('input[type="checkbox"]').check();
  await page.click('[data-testid="add-vuln"]');
  await page.locator('#f-vulnerabilities-0-cve').waitFor();
  // The row came back with the draft saved: what was typed is still there.
  assert.equal(await page.inputValue('#f-title'), title);
  await page.fill('#f-vulnerabilities-0-cve', 'CVE-2026-40404');
  await page.fill('#f-vulnerabilities-0-description', 'A crafted request crashes the device.');
  await page.fill('#f-vulnerabilities-0-cvss_vector', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H');
  await page.locator('fieldset[data-field="vulnerabilities.0.affected"] input[type="checkbox"]').first().check();
  await page.click('[data-testid="add-rem"]');
  await page.locator('#f-vulnerabilities-0-remediations-0-details').waitFor();
  assert.match(await page.textContent('[data-testid="cvss-score"]'), /9\.8 Critical/);
  await page.fill('#f-vulnerabilities-0-remediations-0-details', 'Install the latest firmware.');
  await page.locator('fieldset[data-field="vulnerabilities.0.remediations.0.product_ids"] input[type="checkbox"]').first().check();
  await page.click('[data-testid="preview"]');
  await page.locator('[data-testid="preview-json"]').waitFor();
  assert.match(await page.textContent('[data-testid="preview-json"]'), /"baseScore": 9\.8/);
  await page.screenshot({ path: `${RESULTS}authoring-preview.png`, fullPage: true });

  await page.click('[data-testid="publish"]');
  await page.waitForURL(/\/advisories\/[^/?#]+/);
  await page.locator('[data-testid="advisory-title"]').waitFor();
  assert.equal((await page.textContent('[data-testid="advisory-title"]')).trim(), title);
  assert.deepEqual(page.errors, [], 'no uncaught errors in the page');
  await page.context().close();
});

test('the pages run under the Content-Security-Policy: hydrated, interactive, no violations', { timeout: 120_000 }, async () => {
  const page = await newPage();
  const response = await page.goto(`${BASE}/advisories`);
  const csp = response.headers()['content-security-policy'] ?? '';
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval' 'nonce-/, 'the policy is sent');
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(response.headers()['x-content-type-options'], 'nosniff');
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
  // Interactive: the live filter hides rows without a reload.
  const rows = await readRows(page);
  await page.fill(FILTER, 'no advisory has this text 9f8e7d');
  await page.waitForFunction((sel) => [...document.querySelectorAll(sel)].every((r) => r.hidden), ROW);
  assert.ok(rows.length >= 1);
  // An inline script injected without the nonce does not run.
  const before = CSP_VIOLATIONS.length;
  const ran = await page.evaluate(() => new Promise((resolve) => {
    window.__injected = false;
    const s = document.createElement('script');
    s.textContent = 'window.__injected = true;';
    document.body.appendChild(s);
    setTimeout(() => resolve(window.__injected), 100);
  }));
  assert.equal(ran, false, 'an injected inline script is blocked');
  await page.waitForTimeout(200);
  CSP_VIOLATIONS.splice(before); // that block was the point; only unexpected ones count below
  await page.context().close();
});

test('no page of this run reported a Content-Security-Policy violation', () => {
  assert.deepEqual(CSP_VIOLATIONS, []);
});
