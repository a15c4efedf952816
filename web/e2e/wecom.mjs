// Browser test of the WeCom page (企业微信): headless Chromium driven by
// playwright-core. Run by cmd/cdp/console_test.go against a real platform
// with demo data (its WeCom is the stand-in, wecomtest):
//   CDP_BASE_URL=http://127.0.0.1:8080 CDP_ADMIN_TOKEN=... node web/e2e/wecom.mjs
// It opens the page, switches to 渠道活码 (the tab in the link), creates a
// channel QR code and sees its PNG load, then opens 流失客户 (narrowed by
// alert status) and 客户群, and opens a tab from a link. Screenshots go to
// CDP_ARTIFACTS. Every wait is on a selector or a response.
import { apiCall, base, check, choose, finish, page, shot, signIn, step, token } from './harness.mjs';

const state = 'e2e-' + Date.now().toString(36);
const apiPath = (p) => (r) => new URL(r.url()).pathname === '/api/v1' + p;

await step('sign in', signIn);

await step('the WeCom page opens on tag sync', async () => {
  await page.getByRole('menuitem', { name: '企业微信' }).click();
  await page.waitForURL(/\/wecom$/);
  await page.getByTestId('tag-syncs-table').waitFor();
  check((await page.getByRole('tab', { selected: true }).innerText()).includes('标签同步'), 'tag sync is the first tab');
  await shot('wecom-tags');
});

await step('create a channel QR code and see its PNG', async () => {
  await Promise.all([page.waitForResponse(apiPath('/wecom/contact-ways')), page.getByRole('tab', { name: '渠道活码' }).click()]);
  await page.waitForURL(/\/wecom\?tab=qr$/);
  await page.getByTestId('new-qr').click();
  await page.getByTestId('qr-state').fill(state);
  await choose(page.getByTestId('qr-kind'), '包装批次');
  await page.getByTestId('qr-ref').fill('B20261203');
  await page.getByTestId('qr-users').click();
  await page.keyboard.type('zhangsan');
  await page.keyboard.press('Enter');
  await page.getByTestId('qr-users').locator('.ant-select-selection-item').filter({ hasText: 'zhangsan' }).waitFor();
  await shot('qr-form');
  const [created] = await Promise.all([
    page.waitForResponse((r) => apiPath('/wecom/contact-ways')(r) && r.request().method() === 'POST'),
    page.getByTestId('save-qr').click(),
  ]);
  check(created.status() === 201, `create answered ${created.status()}: ${await created.text()}`);
  // The saved code opens in a dialog with its image, fetched with the token.
  const img = page.getByTestId('qr-modal').getByTestId('qr-img');
  await img.waitFor();
  await page.waitForFunction(() => {
    const i = document.querySelector('[data-testid="qr-modal"] img[data-testid="qr-img"]');
    return i && i.complete && i.naturalWidth > 0;
  });
  const href = await page.getByTestId('qr-modal').getByTestId('qr-download').getAttribute('href');
  check(href && href.startsWith('blob:'), `the download is the fetched PNG: ${href}`);
  check((await page.getByTestId('qr-modal').getByTestId('qr-download').getAttribute('download')) === `qr-${state}.png`, 'the PNG is named after the State');
  const way = await apiCall('GET', `/wecom/contact-ways/${state}`);
  check(way.status === 'active' && way.kind === 'batch' && way.ref === 'B20261203' && way.users.join() === 'zhangsan', `the API has the code: ${JSON.stringify(way)}`);
  await shot('qr-created');
  // Closed by its close button, not Escape: on a loaded machine the key
  // reached the form's dialog while it was still closing, and the code's
  // dialog stayed open over the tabs (a clean-clone run).
  await page.locator('.ant-modal').filter({ has: page.getByTestId('qr-modal') }).locator('.ant-modal-close').click();
  await page.getByTestId('qr-modal').waitFor({ state: 'detached' });
  await page.getByTestId('qr-table').locator('tbody tr').filter({ hasText: state }).waitFor();
});

await step('lost customers, narrowed by alert status', async () => {
  const [first] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/wecom/lost-customers'),
    page.getByRole('tab', { name: '流失客户' }).click(),
  ]);
  await page.waitForURL(/\/wecom\?tab=lost$/);
  check(first.status() === 200, `lost customers answered ${first.status()}`);
  const all = (await first.json()).items;
  await page.getByTestId('lost-table').waitFor();
  if (all.length) await page.getByTestId('lost-table').locator('tbody tr.ant-table-row').first().waitFor();
  // The response is awaited from before the choice, and a click that landed
  // on a dropdown still opening (a loaded machine) is tried again.
  const narrowing = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/wecom/lost-customers' && new URL(r.url()).searchParams.get('status') === 'off', { timeout: 60_000 });
  const status = page.getByTestId('lost-status');
  for (let attempt = 1; ; attempt++) {
    await status.click();
    await page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option').filter({ hasText: '未配置群机器人' }).click();
    try {
      await status.locator('.ant-select-selection-item').filter({ hasText: '未配置群机器人' }).waitFor({ timeout: 5000 });
      break;
    } catch (e) {
      if (attempt === 3) throw new Error('the alert-status select does not show 未配置群机器人 after 3 tries');
      await page.keyboard.press('Escape');
    }
  }
  const narrowed = await narrowing;
  await page.keyboard.press('Escape');
  check(narrowed.status() === 200 && (await narrowed.json()).items.every((l) => l.status === 'off'), 'the server narrowed the list to status off');
  await shot('lost-customers');
});

await step('customer groups, and a tab opened from its link', async () => {
  await Promise.all([page.waitForResponse(apiPath('/wecom/groups')), page.getByRole('tab', { name: '客户群' }).click()]);
  await page.waitForURL(/\/wecom\?tab=groups$/);
  await page.getByTestId('groups-table').waitFor();
  check((await page.getByTestId('groups-help').innerText()).includes('tag("wecom_group:'), 'the page says how to use a group in rules');
  await shot('groups');
  await Promise.all([page.waitForResponse(apiPath('/wecom/contact-ways')), page.goto(base + '/wecom?tab=qr')]);
  await page.getByTestId('qr-table').locator('tbody tr').filter({ hasText: state }).waitFor();
  check((await page.getByRole('tab', { selected: true }).innerText()).includes('渠道活码'), 'the link /wecom?tab=qr opens the QR tab');
});

await finish('wecom');
