// Browser test of the journey canvas: headless Chromium driven by
// playwright-core. Run by cmd/cdp/console_test.go against a real platform
// with demo data:
//   CDP_BASE_URL=http://127.0.0.1:8080 CDP_ADMIN_TOKEN=... node web/e2e/journey.mjs
// It builds the replenishment journey node by node by clicking (the API's
// validation errors drawn on the node they name on the way), saves and
// launches it, and sees the live counts on the canvas move. Screenshots
// go to CDP_ARTIFACTS.
import { apiCall, base, check, choose, finish, page, shot, signIn, step, waitForAPI } from './harness.mjs';

const offerName = '低GI大米试用装 500g';
const node = (id) => page.getByTestId('node-' + id);
// count reads a node's count as the canvas shows it.
const count = async (id, k) => Number(await page.getByTestId(`count-${id}-${k}`).getAttribute('data-value'));
// select clicks a node's head (not a handle) to select it.
const select = async (id) => {
  await node(id).locator('.jc-head').click();
  await page.getByTestId('inspector').locator('.ant-tag').first().waitFor();
};
const input = (testid) => page.locator(`input[data-testid="${testid}"], [data-testid="${testid}"] input`).first();
const save = async () => {
  const answer = page.waitForResponse((r) => /\/api\/v1\/journeys(\/[^/]+)?$/.test(new URL(r.url()).pathname) && ['POST', 'PUT'].includes(r.request().method()));
  await page.getByTestId('save').click();
  return (await answer).status();
};

await step('sign in', signIn);

await step('a template draws the replenishment journey', async () => {
  await page.goto(base + '/journeys');
  await page.getByTestId('new-journey').click();
  await page.waitForURL(/\/journeys\/new$/);
  await page.getByTestId('templates').hover();
  await page.getByTestId('template-replenishment').click();
  for (const id of ['__entry', 'remind', 'buy', 'coupon', 'ordered', 'out']) await node(id).waitFor();
  check((await page.locator('.react-flow__edge').count()) === 5, 'the template has 5 edges');
  await shot('journey-template');
});

await step('build the replenishment journey by clicking', async () => {
  await page.goto(base + '/journeys/new');
  await node('__entry').waitFor();
  await input('journey-name').fill('大米复购（画布测试）');
  await choose(page.getByTestId('goal-offer'), offerName);
  // The entry: households due for rice within 30 days.
  await select('__entry');
  await choose(page.getByTestId('entry-type'), '复购到期');
  await input('entry-lead-days').fill('30');
  // Each step joins the selected node's first free way out.
  await page.getByTestId('add-send').click();
  await node('send_1').waitFor();
  await choose(page.getByTestId('inspector-offer'), offerName);
  await page.getByTestId('inspector-template').fill('您好，我是{{staff}}：家里的米快吃完了吧？{{offer}} {{link}}');
  await page.getByTestId('add-wait_for').click();
  await node('wait_for_1').waitFor();
  await page.getByTestId('add-exit').click();
  await node('exit_1').waitFor();
  // A wait-for without its timeout branch: the API names the node.
  check((await save()) === 400, 'a wait without its timeout branch is refused');
  await page.getByTestId('node-error-wait_for_1').waitFor();
  await page.locator('.jc-invalid[data-testid="node-wait_for_1"]').waitFor();
  await shot('journey-error-timeout');
  // The timeout branch: a coupon, first without its offer.
  await select('wait_for_1');
  await page.getByTestId('add-send').click();
  await node('send_2').waitFor();
  await page.getByTestId('inspector-template').fill('送您一张买米优惠券：{{offer}} {{link}}');
  // An exit joined by clicking a handle, then the target's.
  await page.locator('.react-flow__pane').click({ position: { x: 5, y: 5 } });
  await page.getByTestId('add-exit').click();
  await node('exit_2').waitFor();
  await page.getByTestId('handle-send_2-next').click();
  await node('exit_2').locator('.react-flow__handle.target').click();
  await page.locator('.react-flow__edge[data-id="send_2:next"], [data-testid="rf__edge-send_2:next"]').first().waitFor();
  check((await save()) === 400, 'a send without an offer is refused');
  await page.getByTestId('node-error-send_2').waitFor();
  check(!(await page.getByTestId('node-error-wait_for_1').count()), 'the old error is gone');
  await shot('journey-error-offer');
  await select('send_2');
  await choose(page.getByTestId('inspector-offer'), offerName);
  check((await save()) === 201, 'the journey is created');
  await page.waitForURL(/\/journeys\/jrn_[^/]+\/edit$/);
  await page.getByTestId('journey-status').waitFor();
  await shot('journey-built');
});

await step('the saved definition is the one drawn', async () => {
  const id = page.url().split('/').at(-2);
  const j = await apiCall('GET', '/journeys/' + id);
  const by = Object.fromEntries(j.nodes.map((n) => [n.id, n]));
  check(j.entry.type === 'replenishment' && j.entry.lead_days === 30 && j.entry.next === 'send_1', `entry ${JSON.stringify(j.entry)}`);
  check(by.send_1.next === 'wait_for_1' && by.send_1.send.offer_id === j.settings.goal_offer_id, 'reminder → wait for the order');
  check(by.wait_for_1.wait_for.happened === 'exit_1' && by.wait_for_1.wait_for.timed_out === 'send_2', 'ordered → out; timed out → coupon');
  check(by.send_2.next === 'exit_2' && by.exit_2.type === 'exit', 'coupon → exit');
});

await step('launch and see the counts move', async () => {
  const id = page.url().split('/').at(-2);
  check((await count('send_1', 'entered')) === 0, 'nobody entered before the launch');
  await page.getByTestId('launch').click();
  await page.getByTestId('journey-status').filter({ hasText: '运行中' }).waitFor();
  // The executor enters the households due and sets them waiting; the
  // canvas asks for the counts every few seconds.
  const r = await waitForAPI(`/journeys/${id}/results`, (x) => (x.nodes.wait_for_1?.waiting ?? 0) > 0, 'runs waiting for an order', 90_000);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="count-wait_for_1-waiting"]')?.getAttribute('data-value')) > 0, null, { timeout: 30_000 });
  const entered = await count('send_1', 'entered');
  check(entered > 0, `the reminder shows ${entered} entered`);
  check((await count('__entry', 'entered')) > 0 && r.entered > 0, 'the entry shows the runs entered');
  await shot('journey-counts');
});

await finish('journey canvas browser test');
