// Browser test of the console: headless Chromium driven by playwright-core.
// Run by cmd/cdp/console_test.go against a real platform with demo data:
//   CDP_BASE_URL=http://127.0.0.1:8080 CDP_ADMIN_TOKEN=... node web/e2e/console.mjs
// Screenshots of every step go to CDP_ARTIFACTS (default test-artifacts/console).
// Every wait is on a condition (a selector, a URL, a response), never a sleep.
import { readFileSync } from 'node:fs';
import { apiCall, check, choose, finish, page, shot, step, submit, waitForAPI, base, token } from './harness.mjs';

// The demo campaigns' truth (gen.Respond's effects), written beside the data.
const demoTruth = process.env.CDP_DEMO_TRUTH ? JSON.parse(readFileSync(process.env.CDP_DEMO_TRUTH, 'utf8')) : null;

const flagship = '(did("video_complete", 30, {"topic": "控糖"}) >= 2 || chat("血糖", 30) || lapsed("低GI大米", 60)) && city_tier == 1 && ltv > 300';

await step('sign in with the admin token', async () => {
  await page.goto(base + '/');
  await page.waitForURL(/\/signin$/);
  await page.getByTestId('token-input').fill('wrong-token');
  await page.getByTestId('signin').click();
  await page.getByTestId('api-error').waitFor();
  await shot('signin-refused');
  await page.getByTestId('token-input').fill(token);
  await page.getByTestId('signin').click();
  await page.getByTestId('kpi-persons').waitFor();
  const persons = Number((await page.getByTestId('kpi-persons').innerText()).replace(/,/g, ''));
  const o = await apiCall('GET', '/overview');
  check(persons === o.persons && persons > 0, `overview shows ${persons} persons, API ${o.persons}`);
  await page.getByTestId('chart-trend').locator('canvas').waitFor();
  check((await page.getByTestId('whoami').innerText()).includes('管理员'), 'header names the admin role');
  await shot('overview');
});

await step('build the low-GI audience visually and see the API count', async () => {
  await page.getByRole('menuitem', { name: '人群圈选' }).click();
  await page.getByTestId('segments-table').locator('tbody tr').first().waitFor();
  await shot('segments');
  await page.getByTestId('new-segment').click();
  await page.waitForURL(/\/segments\/new$/);
  // Group 1: completed 控糖 videos ≥ 2 OR chat 血糖 OR lapsed 低GI大米.
  await page.getByTestId('add-group').click();
  await choose(page.getByTestId('cond-kind').nth(0), '完播视频');
  await page.getByTestId('add-or').click();
  await page.getByTestId('add-or').click();
  await choose(page.getByTestId('cond-kind').nth(2), '买过但近期未复购');
  // Group 2: tier-1 city; group 3: LTV > 300.
  await page.getByTestId('add-group').click();
  await choose(page.getByTestId('cond-kind').nth(3), '城市等级');
  await page.getByTestId('add-group').click();
  const rule = await page.getByTestId('rule-preview').innerText();
  check(rule.trim() === flagship, `visual builder wrote ${rule}`);
  await page.waitForFunction((r) => document.querySelector('[data-testid="estimate-count"]')?.getAttribute('data-rule') === r, flagship);
  const shown = Number((await page.getByTestId('estimate-count').innerText()).replace(/,/g, ''));
  const counted = Number(await page.getByTestId('estimate-count').getAttribute('data-count'));
  check(shown === counted, `the count shown (${shown}) is the flagship's (${counted})`);
  const est = await apiCall('POST', '/segments/estimate', { rule: flagship });
  check(shown === est.count, `console estimates ${shown}, API ${est.count}`);
  check(shown > 0, 'the demo has low-GI customers');
  await page.getByTestId('chart-city').locator('canvas').waitFor();
  await page.getByTestId('sample-members').locator('tbody tr a').first().waitFor();
  // Overlap with the demo's flagship segment, which has the same rule.
  await choose(page.getByTestId('overlap-select'), '高潜控糖人群');
  await page.getByTestId('overlap-result').waitFor();
  const overlap = await page.getByTestId('overlap-result').innerText();
  check(overlap.includes(String(shown)), `overlap with the flagship segment shows ${shown} in both: ${overlap}`);
  await page.getByTestId('segment-name').fill('控糖人群（浏览器测试）');
  await shot('segment-builder');
});

await step('a rule error is marked at its line and column', async () => {
  await page.getByTestId('tab-text').click();
  const text = page.getByTestId('rule-text');
  await text.fill(flagship + '\n  && city_tier == "1"');
  await page.getByTestId('rule-error-mark').waitFor();
  const err = await page.getByTestId('rule-error').innerText();
  check(/第 2 行/.test(err), `error names line 2: ${err}`);
  check((await page.getByTestId('rule-error-line').innerText()).includes('2'), 'gutter marks line 2');
  await shot('rule-error');
  await text.fill(flagship);
  await page.getByTestId('rule-error-mark').waitFor({ state: 'detached' });
  await page.waitForFunction((r) => document.querySelector('[data-testid="estimate-count"]')?.getAttribute('data-rule') === r, flagship);
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/segments') && r.request().method() === 'POST'),
    page.getByTestId('save-segment').click(),
  ]);
  check(resp.status() === 201, `save answered ${resp.status()}`);
  await page.waitForURL(/\/segments\/seg_/);
});

let profileId;
await step('open a profile from the sample members', async () => {
  await page.getByTestId('tab-visual').click();
  const link = page.getByTestId('sample-members').locator('tbody tr a').first();
  await link.waitFor();
  profileId = (await link.innerText()).trim();
  await link.click();
  await page.waitForURL(new RegExp('/profiles/' + profileId + '$'));
  await page.getByTestId('profile-oneid').waitFor();
  await page.getByTestId('identifiers').waitFor();
  const body = await page.locator('body').innerText();
  check(!/(?<![\dA-Za-z])1[3-9]\d{9}(?!\d)/.test(body), 'no unmasked phone number on the profile');
  check(!/\d\*/.test(body), 'phone masks show no leading digits, only the last four');
  const ids = await page.getByTestId('identifiers').innerText();
  if (ids.includes('手机号')) check(/(?<!\*)\*{7}\d{4}(?!\d)/.test(ids), `a phone shows as *******NNNN: ${ids}`);
  await shot('profile');
  await page.getByTestId('tab-merges').click();
  await page.getByTestId('merges').waitFor();
  await shot('profile-merges');
});

let campaignId;
await step('create and launch a campaign on the outbox channel', async () => {
  await page.getByRole('menuitem', { name: '营销活动' }).click();
  await page.getByTestId('campaigns-table').locator('tbody tr').first().waitFor();
  await shot('campaigns');
  await page.getByTestId('new-campaign').click();
  await page.waitForURL(/\/campaigns\/new$/);
  await page.getByTestId('campaign-name').fill('食用油复购提醒（浏览器测试）');
  await page.getByTestId('new-offer').click();
  await page.getByTestId('offer-name').fill('高油酸花生油 5L 复购立减 20 元');
  await page.getByTestId('offer-categories').click();
  await page.keyboard.type('高油酸花生油');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Escape');
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/offers') && r.request().method() === 'POST' && r.status() === 200),
    page.locator('.ant-modal-footer .ant-btn-primary').click(),
  ]);
  await choose(page.getByTestId('segment-select'), '食用油复购提醒');
  // No quiet hours, so the test sends whatever the time of day.
  const quiet = page.locator('.ant-form-item').filter({ hasText: '免打扰时段' }).locator('.ant-select');
  await choose(quiet.nth(0), '00:00');
  await choose(quiet.nth(1), '00:00');
  const preview = await page.getByTestId('message-preview').innerText();
  check(preview.includes('王阿姨') && preview.includes('高油酸花生油 5L 复购立减 20 元'), `personalised preview: ${preview}`);
  await page.getByTestId('preview-campaign').click();
  await page.getByTestId('plan').waitFor();
  campaignId = page.url().split('/').pop();
  const planned = Number((await page.getByTestId('plan-treatment').innerText()).replace(/,/g, ''));
  const api = await apiCall('POST', `/campaigns/${campaignId}/preview`);
  check(planned === api.counts.treatment && planned > 0, `plan shows ${planned} to send, API ${api.counts.treatment}`);
  await shot('campaign-preview');
  await page.getByTestId('launch-campaign').click();
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/campaigns/${campaignId}/launch`)),
    page.getByTestId('confirm-launch').click(),
  ]);
  check(resp.status() === 200, `launch answered ${resp.status()}`);
  await page.waitForURL(new RegExp(`/campaigns/${campaignId}/results$`));
  const c = await apiCall('GET', `/campaigns/${campaignId}`);
  check(c.status !== 'draft' && c.channel === 'outbox', `campaign is ${c.status} on ${c.channel}`);
});

await step('see the results page', async () => {
  await page.getByTestId('results').waitFor();
  // The launch answers once the plan is written; the platform's campaign
  // loop sends right after, so the page may first show nobody sent. It
  // refreshes itself while the campaign runs: wait until the API says the
  // campaign finished and the page, without a reload, shows it finished.
  await page.getByTestId('sends').waitFor();
  await page.getByTestId('tasks').waitFor();
  await shot('campaign-results-just-launched');
  await waitForAPI(`/campaigns/${campaignId}`, (c) => c.status === 'finished', 'the campaign to finish sending');
  await page.locator('[data-testid="campaign-status"][data-status="finished"]').waitFor();
  await page.getByTestId('live-banner').waitFor({ state: 'detached' });
  const u = await apiCall('GET', `/campaigns/${campaignId}/results`);
  check(u.treatment.persons > 0, `the finished campaign sent to ${u.treatment.persons}`);
  await page.getByTestId('chart-compare').locator('canvas').waitFor();
  const body = await page.getByTestId('results').innerText();
  check(body.includes(`${u.treatment.persons.toLocaleString('zh-CN')} 人`), `results show the ${u.treatment.persons} recipients`);
  // Delivery: everyone planned was sent (the outbox has no receipts), and
  // the outbox makes no channel tasks.
  const sent = (u.sends.sent ?? 0) + (u.sends.delivered ?? 0);
  check(sent === u.treatment.persons && (u.sends.planned ?? 0) === 0 && (u.sends.sending ?? 0) === 0, `sends ${JSON.stringify(u.sends)}`);
  const shownSent = Number((await page.getByTestId('sends-sent').innerText()).replace(/,/g, ''));
  check(shownSent === sent, `delivery shows ${shownSent} sent, API ${sent}`);
  const progress = await page.getByTestId('sends').innerText();
  check(progress.includes('已处理 100%'), `delivery progress complete: ${progress}`);
  const tasks = await apiCall('GET', `/campaigns/${campaignId}/tasks`);
  check(tasks.items.length === 0, `an outbox campaign has no channel tasks: ${JSON.stringify(tasks.items)}`);
  check((await page.getByTestId('tasks').innerText()).includes('不产生渠道任务'), 'the tasks table says the outbox makes none');
  await shot('campaign-results');
  // The demo's finished campaigns, launched 30 days before the demo's end:
  // the one that reached people shows its numbers as the API gives them.
  const list = await apiCall('GET', '/campaigns');
  let demo = null;
  for (const x of list.items.filter((x) => x.id !== campaignId)) {
    const r = await apiCall('GET', `/campaigns/${x.id}/results`);
    if (r.treatment.persons > 0 && (!demo || r.treatment.persons > demo.r.treatment.persons)) demo = { x, r };
  }
  check(demo, 'a demo campaign reached people');
  await page.goto(`${base}/campaigns/${demo.x.id}/results`);
  await page.getByTestId('results').waitFor();
  await page.getByTestId('chart-compare').locator('canvas').waitFor();
  const demoBody = await page.getByTestId('results').innerText();
  check(demoBody.includes(`${demo.r.treatment.persons.toLocaleString('zh-CN')} 人`), `demo results show the ${demo.r.treatment.persons} recipients`);
  await shot('demo-campaign-results');
});

await step("the demo's flagship results page: a positive lift whose interval contains the generator's truth", async () => {
  check(demoTruth, 'CDP_DEMO_TRUTH names the demo truth file');
  const truth = demoTruth.find((x) => x.Offer === '低GI大米试用装 500g');
  check(truth && truth.ConversionMultiplier === 3, `the flagship offer carries x3: ${JSON.stringify(truth)}`);
  await page.goto(`${base}/campaigns/${truth.campaign_id}/results`);
  await page.getByTestId('results').waitFor();
  const u = await apiCall('GET', `/campaigns/${truth.campaign_id}/results`);
  check(u.treatment.persons === truth.Treatment, `results count ${u.treatment.persons} in treatment, the truth ${truth.Treatment}`);
  const badge = page.getByTestId('significance');
  // The flagship reaches about 1 in 50 households (1,000 at 50,000): enough
  // at this size for a lift and its intervals.
  check(truth.Treatment >= 50 && u.conversion, `the flagship reaches ${truth.Treatment} consented people at this size`);
  // Both intervals are shown, labelled; the badge reads the sequence.
  const cs = page.getByTestId('uplift-cs');
  const lo = Number(await cs.getAttribute('data-lo'));
  const hi = Number(await cs.getAttribute('data-hi'));
  check((await cs.innerText()).includes('随时可看 95% 置信序列'), 'the anytime-valid sequence is labelled');
  check((await page.getByTestId('uplift-ci').innerText()).includes('固定时点 95% 置信区间'), 'the fixed-horizon interval is labelled');
  const shown = Number((await page.getByTestId('uplift').innerText()).replace(/[^0-9.+-]/g, ''));
  check(shown > 0 && u.conversion.estimate > 0, `the flagship shows a positive lift (${shown} pp)`);
  check(lo <= truth.ConversionEffect && truth.ConversionEffect <= hi,
    `the sequence [${lo}, ${hi}] contains the true effect ${truth.ConversionEffect}`);
  check((await badge.getAttribute('data-significant')) === (u.conversion.significant ? 'yes' : 'no'), 'the badge follows the sequence');
  await shot('demo-flagship-results');
});

await step('a segment-entry automation: the WeCom template rule, then its trigger in the list and on its page', async () => {
  await page.goto(base + '/campaigns/new');
  await page.getByTestId('campaign-name').fill('新进控糖人群欢迎礼（浏览器测试）');
  await choose(page.getByTestId('offer-select'), '高油酸花生油 5L 复购立减 20 元');
  await choose(page.getByTestId('segment-select'), '高潜控糖人群');
  await page.locator('label.ant-radio-wrapper', { hasText: '进入人群即触发' }).click();
  // On WeCom one text goes to all of a staff member's customers: the page
  // says so, and the API's refusal of {{name}} lands on the template field.
  await page.locator('label.ant-radio-button-wrapper', { hasText: '企业微信一对一群发' }).click();
  await page.getByTestId('wecom-template-hint').waitFor();
  await page.getByTestId('template').fill('{{name}}您好，我是{{staff}}，送您{{offer}}：{{link}}');
  const [refused] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/campaigns') && r.request().method() === 'POST'),
    page.getByTestId('save-campaign').click(),
  ]);
  check(refused.status() === 400, `a WeCom template with {{name}} saved with ${refused.status()}`);
  const apiErr = (await refused.json()).message;
  const fieldErr = page.locator('.ant-form-item').filter({ has: page.getByTestId('template') }).locator('.ant-form-item-explain-error');
  await fieldErr.waitFor();
  check((await fieldErr.innerText()).includes(apiErr), `the template field shows the API's error "${apiErr}": ${await fieldErr.innerText()}`);
  await shot('campaign-wecom-template-refused');
  await page.locator('label.ant-radio-button-wrapper', { hasText: '记录待发' }).click();
  await page.getByTestId('wecom-template-hint').waitFor({ state: 'detached' });
  await page.getByTestId('preview-campaign').click();
  await page.getByTestId('plan').waitFor();
  await page.getByTestId('plan-trigger-note').waitFor();
  const id = page.url().split('/').pop();
  await shot('campaign-segment-entry-preview');
  await page.getByTestId('launch-campaign').click();
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/campaigns/${id}/launch`)),
    page.getByTestId('confirm-launch').click(),
  ]);
  check(resp.status() === 200, `launch answered ${resp.status()}`);
  const c = await apiCall('GET', `/campaigns/${id}`);
  check(c.trigger === 'segment_entry' && c.status === 'running' && c.channel === 'outbox', `automation is ${c.trigger}/${c.status}/${c.channel}`);
  // Its page: the trigger, running (it waits for people to enter), the
  // delivery and task sections.
  await page.waitForURL(new RegExp(`/campaigns/${id}/results$`));
  await page.locator('[data-testid="campaign-status"][data-status="running"]').waitFor();
  check((await page.getByTestId('campaign-trigger').innerText()).includes('进入人群即触发'), 'the page names the trigger');
  check((await page.getByTestId('live-banner').innerText()).includes('自动化运行中'), 'the page says the automation runs');
  await page.getByTestId('sends').waitFor();
  await page.getByTestId('tasks').waitFor();
  await shot('campaign-segment-entry-results');
  // The list names the trigger.
  await page.getByRole('menuitem', { name: '营销活动' }).click();
  const row = page.getByTestId('campaigns-table').locator('tbody tr', { hasText: '新进控糖人群欢迎礼（浏览器测试）' });
  await row.waitFor();
  check((await row.getByTestId('campaign-trigger-cell').innerText()).includes('进入人群即触发'), 'the list names the trigger');
  await shot('campaigns-with-automation');
});

await step('import a GBK Tmall export: layout and encoding detected, a column remapped, rows imported', async () => {
  // The file Excel on Chinese Windows saves: GBK bytes, the order report's layout.
  const file = new URL('../../ingest/imports/testdata/tmall_orders.gbk.csv', import.meta.url).pathname;
  const key = await apiCall('POST', '/write-keys', { name: '天猫订单导入（浏览器测试）', source: 'tmall', scope: 'server' });
  await page.getByRole('menuitem', { name: '数据导入' }).click();
  await page.getByTestId('import-key').fill(key.secret);
  await page.locator('input[type=file]').setInputFiles(file);
  const previewed = () => page.waitForResponse((r) => r.url().includes('/v1/import/preview') && r.status() === 200);
  await Promise.all([previewed(), page.getByTestId('import-preview').click()]);
  const detected = await page.getByTestId('import-detected').innerText();
  check(detected.includes('gb18030') && detected.includes('天猫'), `detected: ${detected}`);
  const rows = page.getByTestId('import-rows').locator('tbody tr.ant-table-row');
  await rows.first().waitFor();
  check((await rows.count()) === 4, `preview rows: ${await rows.count()}`);
  check((await rows.first().innerText()).includes('3781520918273645121'), 'the first order as it will be stored');
  check((await page.locator('.ant-alert-info').first().innerText()).includes('脱敏'), 'the masked phones are said to be dropped');
  await shot('import-preview');
  // Remap a column in the UI: the address column is not imported.
  const addressRow = page.getByTestId('import-mapping').locator('tr', { hasText: '收货地址' });
  // The field list is long: type to find the choice, as an operator would.
  await addressRow.locator('.ant-select').click();
  await addressRow.locator('.ant-select-selection-search-input').fill('不导入');
  const ignore = page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option').filter({ hasText: '不导入' }).first();
  await Promise.all([previewed(), ignore.click()]);
  await page.getByText('已修改 1 列的映射').waitFor();
  check(!(await rows.first().innerText()).includes('浙江'), 'without the address column no province is stored');
  await shot('import-remapped');
  await Promise.all([
    page.waitForResponse((r) => r.url().includes('/v1/import/orders') && r.status() === 200),
    page.getByTestId('import-start').click(),
  ]);
  await page.getByTestId('import-result').waitFor();
  const accepted = Number((await page.getByTestId('import-accepted').locator('.ant-statistic-content-value').innerText()).replace(/,/g, ''));
  const duplicates = Number((await page.getByTestId('import-duplicates').locator('.ant-statistic-content-value').innerText()).replace(/,/g, ''));
  check(accepted + duplicates === 4, `imported ${accepted} (+${duplicates} duplicates), want the file's 4 orders`);
  await shot('import-result');
});

await step('build a funnel, see the API numbers, save its drop-off as a segment', async () => {
  await page.getByRole('menuitem', { name: '数据分析' }).click();
  await page.waitForURL(/\/analytics$/);
  // Watched a video to the end, then ordered: step 2 becomes video_complete.
  await page.getByTestId('step-name-1').fill('video_complete');
  await page.getByTestId('run-funnel').click();
  await page.getByTestId('funnel-count-1').waitFor();
  const def = JSON.parse(Buffer.from(new URL(page.url()).searchParams.get('q'), 'base64url').toString('utf8'));
  check(def.steps[1].name === 'video_complete', `the link holds the definition: ${JSON.stringify(def)}`);
  const res = await apiCall('POST', '/analytics/funnel', def);
  const shown = [];
  for (const k of [1, 2, 3]) shown.push(Number((await page.getByTestId(`funnel-count-${k}`).innerText()).replace(/,/g, '')));
  check(JSON.stringify(shown) === JSON.stringify(res.total.persons) && shown[0] > 0, `console ${shown}, API ${res.total.persons}`);
  check(res.cached, 'the API answered the same definition from its cache');
  const k = res.total.persons[1] > res.total.persons[2] ? 3 : 2;
  const dropped = res.total.persons[k - 2] - res.total.persons[k - 1];
  check(dropped > 0, `nobody dropped: ${res.total.persons}`);
  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
  const text = readFileSync(await csv.path(), 'utf8');
  check(text.includes(`,${k},`) && text.includes(String(res.total.persons[0])), `CSV export: ${text.slice(0, 200)}`);
  await shot('funnel');
  await page.getByTestId(`save-dropped-${k}`).click();
  await page.getByTestId('segment-name').fill('浏览器测试·完播后流失');
  await submit(page.getByTestId('save-confirm'), (r) => r.method() === 'POST' && r.url().includes('/analytics/funnel/segment'));
  await page.getByTestId('saved-segment').waitFor();
  const segs = await apiCall('GET', '/segments');
  const seg = segs.items.find((s) => s.name === '浏览器测试·完播后流失');
  check(seg && seg.size === dropped && seg.rule.startsWith('in_list("lst_'), `saved segment ${JSON.stringify(seg)}, funnel dropped ${dropped}`);
  await shot('funnel-saved');
  await page.getByRole('tab', { name: '复购留存' }).click();
  await page.getByRole('button', { name: '重新计算' }).click();
  await page.getByTestId('retention-table').locator('tbody tr.ant-table-row').first().waitFor();
  const r = await apiCall('POST', '/analytics/retention', { cohort: 'first_order_month', months: 12 });
  const first = await page.getByTestId('retention-table').locator('tbody tr.ant-table-row').first().locator('td').nth(1).innerText();
  check(Number(first.replace(/,/g, '')) === r.rows[0].size, `retention first cohort ${first}, API ${r.rows[0].size}`);
  await shot('retention');
  await page.getByRole('tab', { name: '客户生命周期' }).click();
  await page.getByRole('button', { name: '重新计算' }).click();
  await page.getByTestId('lifecycle-chart').locator('canvas').waitFor();
  await shot('lifecycle');
});

await step('the WeCom page: tag syncs, the corp tag library and the moment tasks; the sync form names what is missing', async () => {
  await page.getByRole('menuitem', { name: '企业微信' }).click();
  await page.getByTestId('tag-syncs-table').waitFor();
  await page.getByTestId('corp-tags-table').waitFor();
  const syncs = await apiCall('GET', '/wecom/tag-syncs');
  const rows = await page.getByTestId('tag-syncs-table').locator('tbody tr.ant-table-row').count();
  check(rows === syncs.items.length, `the page lists ${rows} tag syncs, the API ${syncs.items.length}`);
  await page.getByTestId('create-tag-sync').click();
  await page.getByText('请选择人群').waitFor();
  await page.getByText('请选择企业标签').waitFor();
  await shot('wecom');
  const [listed] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/wecom/moments'),
    page.getByRole('tab', { name: '客户朋友圈' }).click(),
  ]);
  await page.waitForURL(/\/wecom\?tab=moments$/);
  await page.getByTestId('moments-table').waitFor();
  const moments = (await listed.json()).items;
  if (moments.length) await page.getByTestId('moments-table').locator('tbody tr.ant-table-row').first().waitFor();
  const momentRows = await page.getByTestId('moments-table').locator('tbody tr.ant-table-row').count();
  check(momentRows === moments.length, `the page lists ${momentRows} moment tasks, the API ${moments.length}`);
  await shot('wecom-moments');
});

await step('settings and the English switch', async () => {
  await page.getByRole('menuitem', { name: '系统设置' }).click();
  await page.getByTestId('identity-rules').locator('tbody tr').first().waitFor();
  await shot('settings');
  await page.getByRole('tab', { name: '企业微信' }).click();
  await page.getByTestId('wecom-settings').waitFor();
  await shot('settings-wecom');
  // A write key's scope is chosen at creation; client, for SDKs, is suggested.
  await page.getByRole('tab', { name: '数据接入密钥' }).click();
  await page.getByTestId('create-write-keys').click();
  const dialog = page.locator('.ant-modal').filter({ has: page.getByTestId('write-key-scope-choice') });
  await dialog.waitFor();
  const chosen = await dialog.locator('.ant-radio-wrapper-checked').innerText();
  check(chosen.includes('客户端'), `client scope suggested: ${chosen}`);
  await dialog.getByPlaceholder('例如：天猫订单同步').fill('小程序 SDK（浏览器测试）');
  await dialog.getByPlaceholder('tmall').fill('mini_program');
  await shot('write-key-create');
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/write-keys') && r.request().method() === 'POST' && r.status() === 201),
    dialog.locator('.ant-modal-footer .ant-btn-primary').click(),
  ]);
  await page.getByTestId('new-secret').waitFor();
  await page.keyboard.press('Escape');
  const keyRow = page.locator('tr', { hasText: '小程序 SDK（浏览器测试）' });
  await keyRow.waitFor();
  check((await keyRow.getByTestId('write-key-scope').innerText()).includes('客户端'), 'the new key is listed as a client key');
  await shot('settings-write-keys');
  await page.getByTestId('lang-switch').getByText('English').click();
  // The campaign editor and its channel and trigger help in English.
  await page.goto(base + '/campaigns/new');
  await page.getByTestId('campaign-name').waitFor();
  await page.locator('label.ant-radio-wrapper', { hasText: 'Replenishment reminder' }).click();
  await page.locator('label.ant-radio-button-wrapper', { hasText: 'WeCom one-to-one' }).click();
  await page.getByTestId('wecom-template-hint').waitFor();
  const editor = await page.locator('.ant-form').innerText();
  check(!/[\u4e00-\u9fff]/.test(editor), `English campaign editor: ${editor}`);
  await shot('campaign-editor-english');
  await page.getByRole('menuitem', { name: 'Overview' }).click();
  await page.getByTestId('kpi-persons').waitFor();
  const menu = await page.locator('.ant-layout-sider').innerText();
  check(menu.includes('Segments') && menu.includes('Campaigns') && !/[\u4e00-\u9fff]/.test(menu), `English menu: ${menu}`);
  const title = await page.locator('.cdp-page-title').innerText();
  check(title.includes('Overview') && !/[\u4e00-\u9fff]/.test(title), `English title: ${title}`);
  check((await page.getByTestId('whoami').innerText()).includes('Admin'), 'English role');
  await shot('overview-english');
});

await step('an analyst sees no actions it may not take', async () => {
  const analyst = await apiCall('POST', '/tokens', { name: '数据分析（浏览器测试）', role: 'analyst' });
  // The header's sign-out button (the hover menu offers the same; a hover
  // menu can close under the pointer on a loaded machine).
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/signin$/);
  await page.getByTestId('token-input').fill(analyst.secret);
  await page.getByTestId('signin').click();
  await page.getByTestId('kpi-persons').waitFor();
  await page.goto(base + '/segments');
  await page.getByTestId('segments-table').locator('tbody tr').first().waitFor();
  check(await page.getByTestId('new-segment').count() === 0, 'an analyst cannot create segments');
  await page.goto(base + '/campaigns');
  await page.getByTestId('campaigns-table').locator('tbody tr').first().waitFor();
  check(await page.getByTestId('new-campaign').count() === 0, 'an analyst cannot create campaigns');
  await page.goto(base + '/settings');
  await page.getByRole('tab', { name: 'API tokens' }).click();
  await page.getByText('Only admins can see and manage keys and tokens.').waitFor();
  await shot('analyst-settings');
  // No lookup by phone or another personal identifier: the page says a
  // marketer is needed and offers only OneID and the SDKs' pseudonymous ids.
  await page.goto(base + '/profiles');
  await page.getByTestId('lookup-needs-marketer').waitFor();
  await page.getByTestId('lookup-type').click();
  const options = await page.locator('.ant-select-dropdown .ant-select-item-option').allInnerTexts();
  check(options.includes('OneID') && !options.some((o) => /Phone|UnionID|Member|WeCom|E-mail/.test(o)), `analyst lookup types: ${options}`);
  await page.keyboard.press('Escape');
  await shot('analyst-profiles');
  // The profile opened by OneID shows no personal identifier in full.
  await page.goto(base + '/profiles/' + profileId);
  await page.getByTestId('identifiers').waitFor();
  const ids = await page.getByTestId('identifiers').innerText();
  check(!/(?<![A-Za-z0-9])(wm[A-Za-z0-9_-]{19}|o[A-Za-z0-9_-]{16})(?![A-Za-z0-9])/.test(ids), `an analyst sees no WeCom id or unionid in full: ${ids}`);
  check(!/\d\*/.test(ids) && !/(?<![\dA-Za-z])1[3-9]\d{9}(?!\d)/.test(ids), `an analyst sees phones by their last four digits only: ${ids}`);
  await shot('analyst-profile');
});

await finish('console browser test');
