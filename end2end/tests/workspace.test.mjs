// The hospital's workspace end to end in headless Chromium, against a real Herald with the demo
// data (scripts/e2e): a hospital admin imports a CSV installed base with two sites, sees the
// matching advisory on the home page, marks one site patched and one mitigated; the
// manufacturer's uptake page shows those numbers; another hospital sees none of it; axe-core
// finds no serious or critical violation on the main pages. Screenshots go to
// end2end/test-results/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const BASE = (process.env.HERALD_E2E_URL ?? '').replace(/\/+$/, '');
const CHROMIUM = process.env.HERALD_E2E_CHROMIUM ?? '/usr/bin/chromium';
const RESULTS = fileURLToPath(new URL('../test-results/', import.meta.url));
const HOSPITAL = [process.env.HERALD_E2E_EMAIL, process.env.HERALD_E2E_PASSWORD];
const MAKER = [process.env.HERALD_E2E_PUBLISHER_EMAIL, process.env.HERALD_E2E_PUBLISHER_PASSWORD];
const OTHER = [process.env.HERALD_E2E_OTHER_EMAIL, process.env.HERALD_E2E_OTHER_PASSWORD];
const ADVISORY = 'MMS-SA-2026-001';

let browser;

before(async () => {
  assert.ok(BASE, 'HERALD_E2E_URL must be the base URL of a running herald');
  mkdirSync(RESULTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
});

async function signedIn([email, password], options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(String(error)));
  await page.goto(`${BASE}/login`);
  await page.fill('#login-email', email);
  await page.fill('#login-password', password);
  await page.click('.login-form button[type="submit"]');
  await page.waitForURL(/\/advisories$/);
  return page;
}

/** axe-core on the current page: no serious or critical violation. */
async function axe(page, name) {
  // Evaluated through the DevTools protocol, not as a page script: the page's
  // Content-Security-Policy (rightly) refuses an injected inline script.
  await page.evaluate(readFileSync(AXE, 'utf8'));
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    [],
    `axe on ${name}`,
  );
}

const CSV = [
  'site,site_code,product,version,serial,notes',
  'East wing,EW,Meridian FlowSure 300,4.2.0,E2E-0001,ICU',
  'East wing,EW,Meridian FlowSure 300,4.2.0,E2E-0002,ICU',
  'West wing,WW,Meridian FlowSure 300,4.2.1,E2E-0003,',
].join('\n');

test('the hospital imports its installed base, sees what affects it and marks its sites; the manufacturer sees the uptake', {
  timeout: 240_000,
  skip: !(HOSPITAL[0] && HOSPITAL[1] && MAKER[0] && MAKER[1]) && 'set the HERALD_E2E_* sign-ins (scripts/e2e does)',
}, async () => {
  // Without JavaScript: every form posts and redirects.
  const page = await signedIn(HOSPITAL, { javaScriptEnabled: false });
  // axe runs in a page with JavaScript, on the same pages.
  const checker = await signedIn(HOSPITAL);
  await checker.goto(`${BASE}/installed-base`);
  await axe(checker, '/installed-base');
  await page.goto(`${BASE}/installed-base`);
  // A row that cannot be matched is reported and blocks the import.
  await page.fill('#import-csv', `${CSV}\nWest wing,WW,Meridian FlowSure 300,,E2E-0004,`);
  await page.click('[data-testid="preview-import"]');
  await page.waitForURL(/\/installed-base\/import\//);
  await page.locator('[data-testid="import-problems"]').waitFor();
  assert.match(await page.textContent('[data-testid="import-problems"]'), /ambiguous version/);
  assert.equal(await page.locator('[data-testid="confirm-import"]').count(), 0, 'no confirmation while a row has a problem');
  await checker.goto(page.url());
  await axe(checker, 'the import preview');
  await page.screenshot({ path: `${RESULTS}import-problems.png`, fullPage: true });
  // The corrected file: preview, then confirm.
  await page.goto(`${BASE}/installed-base`);
  await page.fill('#import-csv', CSV);
  await page.click('[data-testid="preview-import"]');
  await page.waitForURL(/\/installed-base\/import\//);
  assert.match(await page.textContent('[data-testid="import-summary"]'), /3 rows read: 2 entries to add, 0 rows/);
  await page.screenshot({ path: `${RESULTS}import-preview.png`, fullPage: true });
  await page.click('[data-testid="confirm-import"]');
  await page.waitForURL(/\/installed-base\?saved=/);
  assert.match(await page.textContent('[data-testid="form-saved"]'), /Imported 2 entries \(3 devices\)/);
  assert.equal(await page.locator('section.site[data-site="East wing"]').count(), 1);
  assert.equal(await page.locator('section.site[data-site="West wing"]').count(), 1);

  // Home: the advisory with both new sites.
  await page.goto(`${BASE}/`);
  const item = page.locator(`li.affecting-item[data-tracking-id="${ADVISORY}"]`);
  await item.waitFor();
  assert.equal(await item.locator('tr[data-site="East wing"]').count(), 1);
  await checker.goto(`${BASE}/`);
  await axe(checker, 'the home page');
  assert.deepEqual(checker.errors, [], 'no uncaught errors in the page');
  await checker.context().close();
  const mark = async (site, status) => {
    const row = page.locator(`li.affecting-item[data-tracking-id="${ADVISORY}"] tr[data-site="${site}"]`);
    await row.locator('summary').click();
    await row.locator('select[name="status"]').selectOption(status);
    await row.locator('input[name="release"]').fill(status === 'patched' ? '4.3.1' : '');
    await row.locator('[data-testid="save-status"]').click();
    await page.waitForURL(/saved=/);
  };
  await mark('East wing', 'patched');
  await mark('West wing', 'mitigated');
  const rowStatus = (site) => page
    .locator(`li.affecting-item[data-tracking-id="${ADVISORY}"] tr[data-site="${site}"] [data-testid="site-status"]`)
    .textContent();
  assert.match(await rowStatus('East wing'), /Patched/);
  assert.match(await rowStatus('West wing'), /Mitigated/);
  await page.screenshot({ path: `${RESULTS}home-statuses.png`, fullPage: true });
  await page.context().close();

  // The manufacturer's uptake: the demo's North (mitigated, 3 serials) and South (under
  // assessment, 6) plus East (patched, 2) and West (mitigated, 1).
  const maker = await signedIn(MAKER);
  await maker.goto(`${BASE}/advisories/${ADVISORY}/uptake`);
  await maker.locator('[data-testid="uptake-summary"]').waitFor();
  assert.equal((await maker.textContent('[data-testid="uptake-patched"]')).trim(), '2');
  assert.equal((await maker.textContent('[data-testid="uptake-mitigated"]')).trim(), '4');
  assert.equal((await maker.textContent('[data-testid="uptake-exposed"]')).trim(), '6');
  assert.equal((await maker.textContent('[data-testid="uptake-acknowledged"]')).trim(), '1');
  await axe(maker, 'the uptake page');
  await maker.screenshot({ path: `${RESULTS}uptake.png`, fullPage: true });
  assert.deepEqual(maker.errors, [], 'no uncaught errors in the page');
  await maker.context().close();
});

test('another hospital sees none of it', {
  timeout: 120_000,
  skip: !(OTHER[0] && OTHER[1]) && 'set HERALD_E2E_OTHER_EMAIL and HERALD_E2E_OTHER_PASSWORD (scripts/e2e does)',
}, async () => {
  const page = await signedIn(OTHER);
  await page.goto(`${BASE}/`);
  await page.locator('[data-testid="home-empty-base"]').waitFor();
  assert.equal(await page.locator('li.affecting-item').count(), 0);
  const text = await page.textContent('main');
  for (const secret of ['East wing', 'West wing', 'North campus', 'E2E-0001']) {
    assert.ok(!text.includes(secret), `${secret} is not shown to another hospital`);
  }
  await page.goto(`${BASE}/installed-base`);
  await page.locator('[data-testid="no-sites"]').waitFor();
  assert.ok(!(await page.textContent('main')).includes('East wing'));
  await axe(page, 'an empty home');
  await page.screenshot({ path: `${RESULTS}other-hospital.png`, fullPage: true });
  await page.context().close();
});
