import dayjs from 'dayjs';
import { describe, expect, it } from 'vitest';
import type { Campaign } from '../../api';
import type { FormInstance } from 'antd';
import { campaignBody, followChannel, formValues, initialValues, renderTemplate, zeroTime } from './model';
import type { FormValues } from './model';

const saved: Campaign = {
  id: 'cmp_1', version: 2, name: '控糖', offer_id: 'off_1', segment_id: 'seg_1', channel: 'webhook', targets: ['sms'], trigger: 'replenishment',
  replenish_kind: 'oil', lead_days: 5, start_at: '2026-03-01T02:00:00.000Z', end_at: zeroTime, template: '{{name}}', holdout_percent: 10,
  global_control_percent: 5, cap_per_week: 2, quiet_start: 21, quiet_end: 8, send_limit: 100, attribution_days: 14, status: 'draft', created_by: 'tok_1',
};

describe('campaign form model', () => {
  it('sends back what a saved campaign filled in', () => {
    const body = campaignBody(formValues(saved));
    expect(body).toMatchObject({
      name: '控糖', offer_id: 'off_1', segment_id: 'seg_1', channel: 'webhook', targets: ['sms'], trigger: 'replenishment',
      replenish_kind: 'oil', lead_days: 5, start_at: '2026-03-01T02:00:00.000Z', end_at: zeroTime, cap_per_day: 0, cap_per_month: 0,
    });
  });

  it('empties what the channel and trigger do not use', () => {
    const v = { ...initialValues('t'), channel: 'outbox', targets: ['x'], trigger: 'once', replenish_kind: 'rice', lead_days: 3, end_at: dayjs() };
    const body = campaignBody(v);
    expect(body.targets).toEqual([]);
    expect(body.replenish_kind).toBe('');
    expect(body.lead_days).toBe(0);
    expect(body.end_at).toBe(zeroTime);
    expect(body.start_at).toBe(zeroTime); // schedule now
  });

  it('sends a demand-surge filter only with its trigger', () => {
    const surge = { class: '高油酸花生油', province: '四川' };
    const body = campaignBody({ ...initialValues('t'), trigger: 'demand_surge', surge, end_at: dayjs('2026-03-01T00:00:00Z') });
    expect(body.surge).toEqual({ class: '高油酸花生油', province: '四川', city: '' });
    expect(body.end_at).toBe('2026-03-01T00:00:00.000Z'); // a triggered campaign keeps its end
    expect(campaignBody({ ...initialValues('t'), trigger: 'once', surge }).surge).toBeUndefined();
  });

  it('sends a customer-group campaign its groups', () => {
    const body = campaignBody({ ...initialValues('t'), channel: 'wecom_group', targets: ['all'] });
    expect(body.targets).toEqual(['all']);
    expect(campaignBody({ ...initialValues('t'), channel: 'wecom', targets: ['all'] }).targets).toEqual([]);
  });

  it('moves a customer-group campaign to a WeCom template, sent once, its targets emptied', () => {
    const fields: Record<string, unknown> = { template: 'std', trigger: 'segment_entry', targets: ['r1'] };
    const form = {
      getFieldValue: (k: string) => fields[k],
      setFieldValue: (k: string, v: unknown) => { fields[k] = v; },
      validateFields: () => Promise.resolve(),
    } as unknown as FormInstance<FormValues>;
    followChannel({ channel: 'wecom_group' } as FormValues, form, { standard: 'std', wecom: 'wc' });
    expect(fields).toEqual({ template: 'wc', trigger: 'once', targets: [] });
    followChannel({ channel: 'outbox' } as FormValues, form, { standard: 'std', wecom: 'wc' });
    expect(fields.template).toBe('std');
  });

  it('fills a template, leaving unknown variables', () => {
    expect(renderTemplate('{{name}}，{{offer}} {{x}}', { name: '王阿姨', offer: '礼' })).toBe('王阿姨，礼 {{x}}');
  });
});
