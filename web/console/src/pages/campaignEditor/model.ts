import dayjs, { Dayjs } from 'dayjs';
import type { FormInstance } from 'antd';
import type { Campaign } from '../../api';

// The campaign editor's form model: its values, how a campaign fills them
// and how they become the body POST/PUT /campaigns takes.

// Template variables the server fills in. A WeCom mass-message task carries
// one text for all of a staff member's customers: the API refuses
// per-person variables on that channel.
export const templateVars = ['name', 'staff', 'offer', 'link', 'coupon'];
export const perPersonVars = ['name', 'coupon'];

// The API's "no time": a zero time.Time.
export const zeroTime = '0001-01-01T00:00:00Z';
export const isSet = (s?: string) => !!s && !s.startsWith('0001');
// A triggered campaign runs as an automation instead of sending once.
export const triggered = (trigger?: string) => trigger === 'segment_entry' || trigger === 'replenishment' || trigger === 'demand_surge';

// FormValues are the editor's fields: a campaign's, plus schedule (now or
// later) and the start and end as dayjs values.
export type FormValues = Omit<Partial<Campaign>, 'start_at' | 'end_at'> & {
  schedule?: 'now' | 'later';
  start_at?: Dayjs;
  end_at?: Dayjs;
};

// initialValues of a new campaign; template is the default text in the
// user's language.
export const initialValues = (template: string): FormValues => ({
  channel: 'outbox', trigger: 'once', targets: [], replenish_kind: 'rice', lead_days: 3, holdout_percent: 10, global_control_percent: 0,
  cap_per_day: 0, cap_per_week: 2, cap_per_month: 0, quiet_start: 21, quiet_end: 8, send_limit: 0, attribution_days: 14, schedule: 'now', template,
});

// formValues are a saved campaign's fields.
export const formValues = (c: Campaign): FormValues => ({
  ...c, trigger: c.trigger || 'once', targets: c.targets ?? [], lead_days: c.lead_days || 3, replenish_kind: c.replenish_kind || 'rice',
  cap_per_day: c.cap_per_day ?? 0, cap_per_month: c.cap_per_month ?? 0,
  schedule: isSet(c.start_at) ? 'later' : 'now', start_at: isSet(c.start_at) ? dayjs(c.start_at) : undefined, end_at: isSet(c.end_at) ? dayjs(c.end_at) : undefined,
});

// campaignBody is what the API takes for the form's values: fields the
// channel or trigger does not use are sent empty.
export const campaignBody = (v: FormValues) => ({
  name: v.name, offer_id: v.offer_id, segment_id: v.segment_id ?? '', channel: v.channel, template: v.template,
  targets: targetedChannels.includes(v.channel ?? '') ? (v.targets ?? []) : [],
  trigger: v.trigger || 'once',
  replenish_kind: v.trigger === 'replenishment' ? v.replenish_kind : '', lead_days: v.trigger === 'replenishment' ? (v.lead_days ?? 0) : 0,
  surge: v.trigger === 'demand_surge' && v.surge ? { class: v.surge.class ?? '', province: v.surge.province ?? '', city: v.surge.city ?? '' } : undefined,
  start_at: v.schedule === 'later' && v.start_at ? v.start_at.toISOString() : zeroTime,
  end_at: triggered(v.trigger) && v.end_at ? v.end_at.toISOString() : zeroTime,
  holdout_percent: v.holdout_percent ?? 0, global_control_percent: v.global_control_percent ?? 0,
  cap_per_day: v.cap_per_day ?? 0, cap_per_week: v.cap_per_week ?? 0, cap_per_month: v.cap_per_month ?? 0,
  quiet_start: v.quiet_start ?? 0, quiet_end: v.quiet_end ?? 0, send_limit: v.send_limit ?? 0, attribution_days: v.attribution_days ?? 0,
});

// targetedChannels name their targets: robots, the webhook, customer groups.
export const targetedChannels = ['robot', 'webhook', 'wecom_group'];

// groupChannels send one text to whole groups, once: no per-person trigger.
export const groupChannels = ['robot', 'wecom_group'];

// wecomTemplated channels send one text a staff member confirms in WeCom
// (one-to-one mass messages, customer-group messages): no per-person
// variables in their template.
export const wecomTemplated = ['wecom', 'wecom_group'];

// followChannel keeps the form consistent when the channel or trigger
// changes: switching to a WeCom channel swaps the untouched default
// template for one without per-person variables (and back), a group
// channel takes no per-person trigger, and targets belong to one channel.
export function followChannel(changed: FormValues, form: FormInstance<FormValues>, templates: { standard: string; wecom: string }) {
  const template = form.getFieldValue('template');
  if (wecomTemplated.includes(changed.channel ?? '') && template === templates.standard) form.setFieldValue('template', templates.wecom);
  if (changed.channel && !wecomTemplated.includes(changed.channel ?? '') && template === templates.wecom) form.setFieldValue('template', templates.standard);
  if (groupChannels.includes(changed.channel ?? '') && form.getFieldValue('trigger') !== 'once') form.setFieldValue('trigger', 'once');
  if (changed.channel) form.setFieldValue('targets', []);
  if (changed.channel || changed.trigger) form.validateFields(['template', 'segment_id']).catch(() => {});
}

// renderTemplate fills a template with a sample customer's values; an
// unknown variable stays as written.
export const renderTemplate = (template: string, values: Record<string, string>) => template.replace(/\{\{(\w+)\}\}/g, (m, k) => values[k] ?? m);
