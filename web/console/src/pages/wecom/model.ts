// The WeCom page's logic that has no React in it: the tabs and their
// keys in the URL, the forms' values turned into API requests, and the
// summaries and filters the tabs show.
import type { ContactWay, ContactWayInput, GroupSend, LostCustomer, Welcome, WelcomeRequest } from '../../api';

// tabKeys are the WeCom page's tabs in order, each its own link
// (/wecom?tab=<key>); the first is the default.
export const tabKeys = ['tags', 'qr', 'welcome', 'lost', 'transfers', 'groups', 'group-sends', 'moments'] as const;
export type TabKey = (typeof tabKeys)[number];

// tabKey is the tab a link names, or the first for none or an unknown one.
export function tabKey(param: string | undefined): TabKey {
  return (tabKeys as readonly string[]).includes(param ?? '') ? (param as TabKey) : tabKeys[0];
}

// wayKinds are what a channel QR code stands for (wecomops.WayKinds).
export const wayKinds = ['store', 'staff', 'sku', 'batch', 'other'] as const;

// Limits WeCom and the platform set (docs/wecom.md), checked before the
// server is asked so the form names the field at once.
export const maxStateChars = 30;
export const maxRemarkChars = 30;
export const maxWayUsers = 100;
export const maxTransferCustomers = 100;
export const maxTransferMessageChars = 200;
export const maxWelcomeBytes = 4000;

// splitIds reads userids or external userids typed one per line or
// separated by commas, spaces or 、: trimmed, empty ones dropped, each
// once, in the order given.
export function splitIds(text: string | string[] | undefined): string[] {
  const parts = Array.isArray(text) ? text : (text ?? '').split(/[\s,，、;；]+/);
  const out: string[] = [];
  for (const p of parts.map((s) => s.trim())) if (p && !out.includes(p)) out.push(p);
  return out;
}

// stateProblem says what is wrong with a State (a message key of
// wecom.qr), or '' when the server may be asked.
export function stateProblem(state: string): '' | 'stateRequired' | 'stateTooLong' | 'stateChars' {
  if (!state.trim()) return 'stateRequired';
  if ([...state].length > maxStateChars) return 'stateTooLong';
  if (/[/\\?#%]/.test(state)) return 'stateChars';
  return '';
}

// WayForm is the QR code form's values.
export type WayForm = { state: string; kind: string; ref?: string; remark?: string; users: string[]; skip_verify: boolean };

// wayInput is the request that creates (or, without its State, changes)
// a QR code.
export function wayInput(v: WayForm): ContactWayInput {
  return { state: v.state.trim(), kind: v.kind, ref: (v.ref ?? '').trim(), remark: (v.remark ?? '').trim(), users: splitIds(v.users), skip_verify: v.skip_verify };
}

// wayForm is a QR code's values in the form, for editing it.
export function wayForm(w: ContactWay): WayForm {
  return { state: w.state, kind: w.kind, ref: w.ref, remark: w.remark, users: w.users, skip_verify: w.skip_verify };
}

// WelcomeForm is the welcome message form's values: the text, an
// optional link and the automatic tags.
export type WelcomeForm = { text?: string; link_title?: string; link_url?: string; tag_ids?: string[] };

// welcomeRequest is the request that sets a State's welcome message; the
// link goes only when it has a title or a URL (the server names what it
// lacks), the mini program is kept as it was (the console does not edit
// it).
export function welcomeRequest(v: WelcomeForm, was?: Welcome): WelcomeRequest {
  const title = (v.link_title ?? '').trim();
  const url = (v.link_url ?? '').trim();
  return {
    text: (v.text ?? '').trim(),
    link: title || url ? { title, url } : null,
    miniprogram: was?.miniprogram ?? null,
    tag_ids: v.tag_ids ?? [],
  };
}

// welcomeForm is a welcome message's values in the form.
export function welcomeForm(w?: Welcome): WelcomeForm {
  return { text: w?.text ?? '', link_title: w?.link?.title ?? '', link_url: w?.link?.url ?? '', tag_ids: w?.tag_ids ?? [] };
}

// utf8Bytes is how many bytes WeCom counts in a text.
export const utf8Bytes = (s: string) => new TextEncoder().encode(s).length;

// LostFilter narrows the lost customers the server answered: by the
// staff member or customer (a substring of their userids) and by who
// ended the contact (del_follow_user: the customer; del_external_contact:
// the staff member). Alert statuses are narrowed by the server.
export type LostFilter = { who?: string; change_type?: string };

export function filterLost(list: LostCustomer[], f: LostFilter): LostCustomer[] {
  const who = (f.who ?? '').trim().toLowerCase();
  return list.filter(
    (l) =>
      (!f.change_type || l.change_type === f.change_type) &&
      (!who || l.staff_userid.toLowerCase().includes(who) || l.external_userid.toLowerCase().includes(who) || l.manager.toLowerCase().includes(who)),
  );
}

// lostQuery is the lost-customers request for the chosen alert statuses.
export function lostQuery(statuses: string[], limit = 500): string {
  const q = new URLSearchParams({ limit: String(limit) });
  if (statuses.length) q.set('status', statuses.join(','));
  return '/wecom/lost-customers?' + q.toString();
}

// groupSendStates are a group send's states in the order the console
// lists their counts (campaigns/channel_wecom_group.go).
export const groupSendStates = ['sending', 'unsent', 'sent', 'delivered', 'capped', 'skipped', 'not_sent', 'failed'] as const;

// countByState counts a campaign's groups by their latest state, in
// groupSendStates' order, leaving out states no group is in; a state the
// console does not know is counted after them.
export function countByState(sends: GroupSend[]): { state: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const s of sends) counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
  const known = groupSendStates.filter((s) => counts.has(s)).map((s) => ({ state: s as string, count: counts.get(s)! }));
  const other = [...counts.keys()].filter((s) => !(groupSendStates as readonly string[]).includes(s)).sort();
  return [...known, ...other.map((s) => ({ state: s, count: counts.get(s)! }))];
}

// groupRule is the rule that selects a group's customers: the person tag
// wecom_group:<name> (docs/wecom.md), quoted as the rule language quotes.
export function groupRule(name: string): string {
  return `tag(${JSON.stringify('wecom_group:' + name)})`;
}

// pngName is the file a QR code downloads as: its State, with what a
// file name cannot hold replaced.
export function pngName(state: string): string {
  return 'qr-' + state.replace(/[/\\?%*:|"<>\s]/g, '_') + '.png';
}
