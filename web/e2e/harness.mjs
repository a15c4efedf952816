// The browser tests' harness: headless Chromium (the system's, driven by
// playwright-core) on a page of the console, the API called with the
// admin token, screenshots, and steps that stop the test at their first
// failure. Every wait is on a condition (a selector, a URL, a response),
// never a sleep. Environment: CDP_BASE_URL, CDP_ADMIN_TOKEN,
// CDP_ARTIFACTS (screenshots), CDP_CHROMIUM.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const base = process.env.CDP_BASE_URL;
export const token = process.env.CDP_ADMIN_TOKEN;
const artifacts = process.env.CDP_ARTIFACTS || 'test-artifacts/console';
const executablePath = process.env.CDP_CHROMIUM || '/usr/bin/chromium';
if (!base || !token) {
  console.error('CDP_BASE_URL and CDP_ADMIN_TOKEN are required');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });


export async function apiCall(method, path, body) {
  const res = await fetch(base + '/api/v1' + path, {
    method,
    headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(data)}`);
  return data;
}

export function check(cond, msg) {
  if (!cond) throw new Error('check failed: ' + msg);
}

// waitForAPI asks the API again (every 100 ms, up to timeoutMs) until
// done(answer) holds, and returns that answer: a condition, not a sleep.
export async function waitForAPI(path, done, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await apiCall('GET', path);
    if (done(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: last answer ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
export const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
page.setDefaultTimeout(30_000);
export const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));
page.on('console', (m) => m.type() === 'error' && !/Failed to load resource/.test(m.text()) && pageErrors.push('console: ' + m.text()));

// signIn opens the console and signs in with the admin token.
export async function signIn() {
  await page.goto(base + '/');
  await page.waitForURL(/\/signin$/);
  await page.getByTestId('token-input').fill(token);
  await page.getByTestId('signin').click();
  await page.getByTestId('kpi-persons').waitFor();
}

let n = 0;
export async function shot(name) {
  n++;
  const file = join(artifacts, `${String(n).padStart(2, '0')}-${name}.png`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage: true });
  console.log('screenshot', file);
}
// choose picks label in an antd Select and waits until the select shows it.
// The option is looked up in this select's own dropdown (the one holding
// the listbox its combobox controls), never in another select's dropdown
// that is still closing. On a loaded machine a dropdown can close under the click (a
// re-render, an animation cut short), so a choice that does not land within
// a few seconds is tried again from a closed dropdown.
export async function choose(select, label) {
  const id = await select.locator('input[role="combobox"]').getAttribute('id');
  const dropdown = page.locator(`.ant-select-dropdown:has([id="${id}_list"])`);
  for (let attempt = 1; ; attempt++) {
    try {
      await select.click({ timeout: 10000 });
      const option = dropdown.locator('.ant-select-item-option').filter({ hasText: label }).first();
      await option.click({ timeout: 8000 });
      await select.locator('.ant-select-selection-item').filter({ hasText: label }).waitFor({ timeout: 5000 });
      await dropdown.waitFor({ state: 'hidden', timeout: 5000 }).catch(() => {});
      return;
    } catch (e) {
      if (attempt === 4) throw new Error(`the select does not show ${label} after ${attempt} tries: ${e.message}`);
      await page.keyboard.press('Escape').catch(() => {});
    }
  }
}
// submit clicks a button (a modal's OK) until the request it sends has
// gone out, up to four times: a click that lands while the modal is still
// opening is lost (the console's save of a funnel drop-off once waited 30 s
// for a result its request was never sent for). matches is the request's
// predicate; the request is sent within the click, so 8 s is a lost click.
export async function submit(button, matches) {
  for (let attempt = 1; ; attempt++) {
    const sent = page.waitForRequest(matches, { timeout: 8000 });
    try {
      await button.click({ timeout: 10000 });
      await sent;
      return;
    } catch (e) {
      sent.catch(() => {});
      if (attempt === 4) throw new Error(`no request went out after ${attempt} clicks: ${e.message}`);
    }
  }
}
export async function step(name, f) {
  const start = Date.now();
  try {
    await f();
    console.log(`ok   ${name} (${Date.now() - start} ms)`);
  } catch (e) {
    await shot('FAILED-' + name.replace(/\W+/g, '-')).catch(() => {});
    console.error(`FAIL ${name}: ${e.stack || e}`);
    if (pageErrors.length) console.error('page errors:\n' + pageErrors.join('\n'));
    await browser.close();
    process.exit(1);
  }
}

// finish closes the browser and fails on any error the page logged.
export async function finish(what) {
  await browser.close();
  if (pageErrors.length) {
    console.error('FAIL page errors:\n' + pageErrors.join('\n'));
    process.exit(1);
  }
  console.log('PASS ' + what);
}
