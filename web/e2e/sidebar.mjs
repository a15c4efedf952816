// Browser test of the staff sidebar (聊天工具栏): headless Chromium on
// /sidebar/ with a stand-in `wx` (the real JS-SDK lives in WeCom's
// client). Run by api/sidebar_browser_test.go against a platform whose
// WeCom is the fake:
//   CDP_BASE_URL, CDP_ADMIN_TOKEN, CDP_SIDEBAR_URL (the page with its OAuth2 code),
//   CDP_SIDEBAR_CUSTOMER (the external_userid the chat is with),
//   CDP_SIDEBAR_TICKETS ("jsapi ticket,agent ticket": the stand-in checks the signatures),
//   CDP_SIDEBAR_PHONE (the customer's phone, which must not appear).
// The stand-in checks wx.config's and wx.agentConfig's signatures against
// the fake's tickets (SHA-1 of jsapi_ticket=…&noncestr=…&timestamp=…&url=…)
// and fails them, as WeCom would, when they do not match.
import { check, finish, page, shot, step } from './harness.mjs';

const [ticket, agentTicket] = (process.env.CDP_SIDEBAR_TICKETS || ',').split(',');
const customer = process.env.CDP_SIDEBAR_CUSTOMER;
const phone = process.env.CDP_SIDEBAR_PHONE;

await page.setViewportSize({ width: 380, height: 820 });
await page.addInitScript(({ ticket, agentTicket, customer }) => {
  const sha1 = async (s) => [...new Uint8Array(await crypto.subtle.digest('SHA-1', new TextEncoder().encode(s)))].map((b) => b.toString(16).padStart(2, '0')).join('');
  const signed = (t, o) => sha1(`jsapi_ticket=${t}&noncestr=${o.nonceStr}&timestamp=${o.timestamp}&url=${location.href.split('#')[0]}`);
  let ready = () => {}, error = () => {}, configured = false, agent = false;
  window.wxCalls = [];
  window.wx = {
    config(o) {
      window.wxCalls.push('config');
      signed(ticket, o).then((s) => { configured = s === o.signature; configured ? ready() : error({ errMsg: 'config:invalid signature' }); });
    },
    ready(f) { ready = f; },
    error(f) { error = f; },
    agentConfig(o) {
      window.wxCalls.push('agentConfig');
      signed(agentTicket, o).then((s) => { agent = configured && s === o.signature; agent ? o.success({}) : o.fail({ errMsg: 'agentConfig:invalid signature' }); });
    },
    invoke(name, args, cb) {
      window.wxCalls.push(name);
      if (!agent) return cb({ err_msg: name + ':permission denied' });
      if (name === 'getContext') return cb({ err_msg: 'getContext:ok', entry: 'single_chat_tools' });
      if (name === 'getCurExternalContact') return cb({ err_msg: 'getCurExternalContact:ok', userId: customer });
      cb({ err_msg: name + ':fail' });
    },
  };
}, { ticket, agentTicket, customer });

await step('the sidebar shows the customer of the chat', async () => {
  await page.goto(process.env.CDP_SIDEBAR_URL);
  await page.getByTestId('sidebar-card').waitFor();
  const calls = await page.evaluate(() => window.wxCalls);
  check(calls.join(',') === 'config,agentConfig,getContext,getCurExternalContact', 'the JS-SDK steps in order: ' + calls);
  const id = await page.getByTestId('sidebar-id-phone').innerText();
  check(/\*{4,}5678/.test(id), 'the phone is shown masked: ' + id);
  check(!(await page.content()).includes(phone), 'the phone is nowhere in the page');
  check((await page.getByTestId('sidebar-order').count()) === 2, 'the two orders are listed');
  check((await page.getByTestId('sidebar-order-count').innerText()) === '2', 'the order count');
  await page.getByTestId('sidebar-next-rice').waitFor();
  await shot('sidebar-card');
});

await step('the English switch', async () => {
  await page.getByTestId('sidebar-lang').click();
  await page.getByText('Recent orders').waitFor();
  await shot('sidebar-card-en');
});

await finish('sidebar');
