// The WeCom JS-SDK steps of the staff sidebar: load the SDK (unless the
// page already has a `wx`: the browser test supplies a stand-in), wx.config
// with the corp's signature, wx.agentConfig with the application's, then
// getContext (the toolbar the page was opened from) and
// getCurExternalContact (the customer of the chat that is open). The SDK
// lives in WeCom's client; outside it these calls fail and the page says so.

export interface Signed {
  timestamp: number;
  nonce_str: string;
  signature: string;
}
export interface Signatures {
  corp_id: string;
  agent_id: string;
  config: Signed;
  agent_config: Signed;
}

// WxError is a JS-SDK step that failed, with WeCom's errMsg.
export class WxError extends Error {
  step: string;
  constructor(step: string, detail: string) {
    super(`${step}: ${detail}`);
    this.step = step;
  }
}

type Res = { err_msg?: string; errMsg?: string; [k: string]: unknown };
// The JS-SDK surface the page uses.
interface Wx {
  config(o: Record<string, unknown>): void;
  ready(f: () => void): void;
  error(f: (res: Res) => void): void;
  agentConfig(o: Record<string, unknown>): void;
  invoke(name: string, args: Record<string, unknown>, cb: (res: Res) => void): void;
}

const jsApiList = ['getContext', 'getCurExternalContact'];

function loadScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = () => resolve();
    s.onerror = () => reject(new WxError('load', src));
    document.head.appendChild(s);
  });
}

// sdk returns the page's wx, loading WeCom's JS-SDK (jweixin, then
// jwxwork for agentConfig) when there is none.
async function sdk(): Promise<Wx> {
  const w = window as unknown as { wx?: Wx };
  if (!w.wx) {
    await loadScript('https://res.wx.qq.com/open/js/jweixin-1.2.0.js');
    await loadScript('https://open.work.weixin.qq.com/wwopen/js/jwxwork-1.0.0.js');
  }
  if (!w.wx) throw new WxError('load', 'no wx after loading the JS-SDK');
  return w.wx;
}

function ok(res: Res, name: string): boolean {
  return (res.err_msg ?? res.errMsg ?? '') === `${name}:ok`;
}

// currentCustomer runs the steps and returns the chat's external_userid
// and the toolbar entry (single_chat_tools, group_chat_tools, ...).
export async function currentCustomer(sig: Signatures): Promise<{ externalUserId: string; entry: string }> {
  const wx = await sdk();
  await new Promise<void>((resolve, reject) => {
    wx.config({ beta: true, debug: false, appId: sig.corp_id, timestamp: sig.config.timestamp, nonceStr: sig.config.nonce_str, signature: sig.config.signature, jsApiList });
    wx.error((res) => reject(new WxError('config', String(res.errMsg ?? res.err_msg ?? ''))));
    wx.ready(() => resolve());
  });
  await new Promise<void>((resolve, reject) => {
    wx.agentConfig({
      corpid: sig.corp_id, agentid: sig.agent_id, timestamp: sig.agent_config.timestamp, nonceStr: sig.agent_config.nonce_str,
      signature: sig.agent_config.signature, jsApiList,
      success: () => resolve(),
      fail: (res: Res) => reject(new WxError('agentConfig', String(res.errMsg ?? res.err_msg ?? ''))),
    });
  });
  const entry = await new Promise<string>((resolve, reject) => {
    wx.invoke('getContext', {}, (res) => (ok(res, 'getContext') ? resolve(String(res.entry ?? '')) : reject(new WxError('getContext', String(res.err_msg ?? '')))));
  });
  if (entry !== 'single_chat_tools') return { externalUserId: '', entry };
  const externalUserId = await new Promise<string>((resolve, reject) => {
    wx.invoke('getCurExternalContact', {}, (res) =>
      ok(res, 'getCurExternalContact') ? resolve(String(res.userId ?? '')) : reject(new WxError('getCurExternalContact', String(res.err_msg ?? ''))));
  });
  return { externalUserId, entry };
}
