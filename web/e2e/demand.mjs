// Browser test of the 需求感知 (demand sensing) page: headless Chromium
// driven by playwright-core. Run by cmd/cdp/console_test.go against a real
// platform with demo data, whose demand world has surges in 成都 and 杭州
// (cmd/cdp/demo_demand.go) detected at the demo's start:
//   CDP_BASE_URL=http://127.0.0.1:8080 CDP_ADMIN_TOKEN=... node web/e2e/demand.mjs
// It opens the page, sees the provinces of the alerts coloured on the map
// and the alert list the API gives (count and regions), chooses the 成都
// alert and sees its series chart with the forecast's interval bands,
// then switches to English and back. Screenshots go to CDP_ARTIFACTS.
// Every wait is on a selector, a response or a drawn chart.
import { apiCall, check, finish, page, shot, signIn, step } from './harness.mjs';

const apiPath = (p) => (r) => new URL(r.url()).pathname === '/api/v1' + p;

// coloured runs in the page: the pixels of the chart testId's canvases
// in the colours of kind (the map's alert reds, the forecast's bands);
// with min, whether there are at least min of them.
function coloured({ testId, kind, min }) {
  const kinds = {
    // The visualMap's reds (#ff7875 .. #820014), opaque: not the grey of
    // a province without alerts nor the pale #fff1f0 of its low end.
    red: (r, g, b, a) => a > 200 && r >= 120 && r - g >= 90 && r - b >= 90,
    // The 80% and 95% bands: #1677ff at alpha 0.22 and 0.12, alone or
    // stacked, on the chart's transparent canvas (the forecast's dashed
    // line is the same blue, opaque).
    band: (r, g, b, a) => a >= 20 && a <= 140 && Math.abs(r - 22) <= 16 && Math.abs(g - 119) <= 16 && b >= 235,
    // The demand signals' line, #fa541c, opaque.
    signals: (r, g, b, a) => a > 200 && Math.abs(r - 250) <= 12 && Math.abs(g - 84) <= 20 && b <= 60,
  };
  let n = 0;
  for (const c of document.querySelectorAll(`[data-testid="${testId}"] canvas`)) {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4) if (kinds[kind](d[i], d[i + 1], d[i + 2], d[i + 3])) n++;
  }
  return min === undefined ? n : n >= min;
}
// waitColoured waits until the chart shows at least min pixels of kind
// (a condition on what is drawn, polled) and returns how many it shows.
async function waitColoured(testId, kind, min) {
  await page.waitForFunction(coloured, { testId, kind, min }, { polling: 200 });
  return page.evaluate(coloured, { testId, kind });
}

const region = (a) => [a.series.province, a.series.city].filter(Boolean).join(' ');
let alerts;

await step('sign in', signIn);

await step('the demo has recent surge alerts', async () => {
  alerts = (await apiCall('GET', '/demand/alerts?days=7&limit=1000')).alerts;
  const cities = alerts.map((a) => a.series.city);
  check(cities.includes('成都') && cities.includes('杭州'), `the demo's surges in 成都 and 杭州 are alerted: ${alerts.map(region).join(', ')}`);
});

await step('需求感知 shows the alerts on the map and in the list', async () => {
  const [answer] = await Promise.all([
    page.waitForResponse(apiPath('/demand/alerts')),
    page.getByRole('menuitem', { name: '需求感知' }).click(),
  ]);
  await page.waitForURL(/\/demand$/);
  const shown = (await answer.json()).alerts;
  check(shown.length === alerts.length, `the page got ${shown.length} alerts, the API ${alerts.length}`);
  const rows = page.getByTestId('demand-alerts').locator('tbody tr.ant-table-row');
  await rows.first().waitFor();
  check(await rows.count() === Math.min(alerts.length, 20), `${await rows.count()} rows for ${alerts.length} alerts`);
  const table = await page.getByTestId('demand-alerts').innerText();
  for (const city of ['成都', '杭州']) check(table.includes(city), `the list names ${city}: ${table}`);
  // 四川 and 浙江 coloured by their alerts' strength.
  const red = await waitColoured('demand-map', 'red', 400);
  console.log(`map: ${red} pixels in the alert reds`);
  await shot('demand-map');
});

await step('choosing the 成都 alert draws its series with the forecast bands', async () => {
  const a = alerts.find((x) => x.series.city === '成都');
  const q = new URLSearchParams({ level: 'city', class: a.series.class, province: a.series.province, city: a.series.city });
  const forecast = (await apiCall('GET', '/demand/forecast?' + q)).forecasts;
  check(forecast.length === 1 && forecast[0].days.length === 14, `a 14-day forecast for 成都: ${JSON.stringify(forecast).slice(0, 300)}`);
  const row = page.getByTestId('demand-alerts').locator('tbody tr.ant-table-row', { hasText: '成都' }).first();
  await row.click();
  await page.getByTestId('demand-alerts').locator('tr.ant-table-row-selected', { hasText: '成都' }).waitFor();
  await page.locator('.ant-card-head-title', { hasText: `需求序列：${a.series.class} · ` }).filter({ hasText: '成都' }).waitFor();
  // The series drawn (its signals line), and the bands wherever the
  // forecast's intervals have a width: the demo's few orders in a city
  // can give a forecast of 0 whose bands are empty.
  const line = await waitColoured('demand-series', 'signals', 200);
  const width = Math.max(...forecast[0].days.map((d) => d.p95[1] - d.p95[0]));
  const band = width > 0 ? await waitColoured('demand-series', 'band', 300) : await page.evaluate(coloured, { testId: 'demand-series', kind: 'band' });
  console.log(`series: ${line} pixels of the signals line, ${band} of the forecast bands (widest 95% interval ${width})`);
  await shot('demand-series-chengdu');
});

await step('English and back', async () => {
  await page.getByTestId('lang-switch').getByText('English').click();
  await page.locator('.cdp-page-title', { hasText: 'Demand sensing' }).waitFor();
  await page.getByTestId('demand-alerts').locator('.ant-card-head-title', { hasText: 'Surge alerts' }).waitFor();
  await page.locator('.ant-card-head-title', { hasText: 'Demand series: ' }).filter({ hasText: '成都' }).waitFor();
  const menu = await page.locator('.ant-layout-sider').innerText();
  check(menu.includes('Demand sensing') && !/[\u4e00-\u9fff]/.test(menu), `English menu: ${menu}`);
  await waitColoured('demand-map', 'red', 400);
  await shot('demand-english');
  await page.getByTestId('lang-switch').getByText('中文').click();
  await page.locator('.cdp-page-title', { hasText: '需求感知' }).waitFor();
  await page.getByTestId('demand-alerts').locator('.ant-card-head-title', { hasText: '突增预警' }).waitFor();
});

await finish('demand');
