import { useEffect, useMemo, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { Alert, App, Button, Card, Col, DatePicker, Divider, Form, Input, InputNumber, Modal, Popconfirm, Radio, Row, Select, Slider, Space, Spin, Statistic, Steps, Table, Tag, Tooltip, Typography } from 'antd';
import { EyeOutlined, PlusOutlined, RocketOutlined, SaveOutlined } from '@ant-design/icons';
import dayjs, { Dayjs } from 'dayjs';
import { api, Campaign, ChannelSettings, get, Launched, Offer, post, Preview, Segment } from '../api';
import { useAuth } from '../auth';
import { useName, useT } from '../i18n';
import { ErrorAlert, fmtInt, fmtTime, PageTitle } from '../components/common';


const vars = ['name', 'staff', 'offer', 'link', 'coupon'];
// A WeCom mass-message task carries one text for all of a staff member's
// customers: the API refuses per-person variables on that channel.
const perPerson = ['name', 'coupon'];
const zeroTime = '0001-01-01T00:00:00Z';
const isSet = (s?: string) => !!s && !s.startsWith('0001');
const triggered = (trigger?: string) => trigger === 'segment_entry' || trigger === 'replenishment';

export default function CampaignEditor() {
  const t = useT();
  const name = useName();
  const { id } = useParams();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const { can } = useAuth();
  const [form] = Form.useForm();
  const [offers, setOffers] = useState<Offer[]>([]);
  const [segments, setSegments] = useState<Segment[]>([]);
  const [camp, setCamp] = useState<Campaign | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  const [previewing, setPreviewing] = useState(false);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [launching, setLaunching] = useState(false);
  const [offerOpen, setOfferOpen] = useState(false);
  const [offerForm] = Form.useForm();
  const [offerBusy, setOfferBusy] = useState(false);
  const [offerErr, setOfferErr] = useState<unknown>(null);
  const template: string = Form.useWatch('template', form) || '';
  const offerId: string = Form.useWatch('offer_id', form);
  const segmentId: string = Form.useWatch('segment_id', form);
  const channel: string = Form.useWatch('channel', form) || 'outbox';
  const trigger: string = Form.useWatch('trigger', form) || 'once';
  const schedule: string = Form.useWatch('schedule', form) || 'now';
  const [chans, setChans] = useState<ChannelSettings | null>(null);

  useEffect(() => {
    get<{ items: Offer[] }>('/offers').then((r) => setOffers(r.items)).catch(setError);
    get<{ items: Segment[] }>('/segments').then((r) => setSegments(r.items)).catch(setError);
    get<ChannelSettings>('/settings/channels').then(setChans).catch(() => {});
  }, []);
  useEffect(() => {
    if (!id) return;
    get<Campaign>('/campaigns/' + id).then((c) => {
      if (c.status !== 'draft') navigate(`/campaigns/${id}/results`, { replace: true });
      setCamp(c);
      form.setFieldsValue({
        ...c, trigger: c.trigger || 'once', targets: c.targets ?? [], lead_days: c.lead_days || 3, replenish_kind: c.replenish_kind || 'rice',
        cap_per_day: c.cap_per_day ?? 0, cap_per_month: c.cap_per_month ?? 0,
        schedule: isSet(c.start_at) ? 'later' : 'now', start_at: isSet(c.start_at) ? dayjs(c.start_at) : undefined, end_at: isSet(c.end_at) ? dayjs(c.end_at) : undefined,
      });
    }).catch(setError);
  }, [id, form, navigate]);

  const offer = offers.find((o) => o.id === offerId);
  const segment = segments.find((s) => s.id === segmentId);
  const rendered = useMemo(() => {
    const v: Record<string, string> = { name: t('王阿姨', 'Mrs Wang'), staff: t('营养顾问小李', 'Li (nutrition adviser)'), offer: offer?.name || t('〔优惠名称〕', '[offer]'), link: offer?.link || 'https://…', coupon: 'LGI-8F3K' };
    return template.replace(/\{\{(\w+)\}\}/g, (m, k) => v[k] ?? m);
  }, [template, offer, t]);

  const body = (v: any) => ({
    name: v.name, offer_id: v.offer_id, segment_id: v.segment_id ?? '', channel: v.channel, template: v.template,
    targets: v.channel === 'robot' || v.channel === 'webhook' ? (v.targets ?? []) : [],
    trigger: v.trigger || 'once',
    replenish_kind: v.trigger === 'replenishment' ? v.replenish_kind : '', lead_days: v.trigger === 'replenishment' ? (v.lead_days ?? 0) : 0,
    start_at: v.schedule === 'later' && v.start_at ? (v.start_at as Dayjs).toISOString() : zeroTime,
    end_at: triggered(v.trigger) && v.end_at ? (v.end_at as Dayjs).toISOString() : zeroTime,
    holdout_percent: v.holdout_percent ?? 0, global_control_percent: v.global_control_percent ?? 0,
    cap_per_day: v.cap_per_day ?? 0, cap_per_week: v.cap_per_week ?? 0, cap_per_month: v.cap_per_month ?? 0,
    quiet_start: v.quiet_start ?? 0, quiet_end: v.quiet_end ?? 0, send_limit: v.send_limit ?? 0, attribution_days: v.attribution_days ?? 0,
  });
  const save = async (): Promise<Campaign | null> => {
    const v = await form.validateFields();
    setSaving(true);
    setError(null);
    try {
      const saved = camp ? await api<Campaign>('PUT', '/campaigns/' + camp.id, body(v)) : await post<Campaign>('/campaigns', body(v));
      setCamp(saved);
      if (!id) navigate('/campaigns/' + saved.id, { replace: true });
      return saved;
    } catch (e: any) {
      setError(e);
      if (e.field) form.setFields([{ name: e.field, errors: [e.message] }]);
      return null;
    } finally {
      setSaving(false);
    }
  };
  const doPreview = async () => {
    const saved = await save();
    if (!saved) return;
    setPreviewing(true);
    try {
      setPreview(await post<Preview>(`/campaigns/${saved.id}/preview`));
    } catch (e) {
      setError(e);
    } finally {
      setPreviewing(false);
    }
  };
  const launch = async () => {
    if (!camp) return;
    // The server plans and writes the whole plan to the send log before it
    // answers; the platform's campaign loop sends right after, and the
    // results page follows the sending.
    setLaunching(true);
    setError(null);
    try {
      const r = await post<Launched>(`/campaigns/${camp.id}/launch`);
      const c = r.campaign;
      if (c.status === 'scheduled') message.success(t(`活动已排期：将于 ${fmtTime(c.start_at)} 开始发送`, `Scheduled: sending starts at ${fmtTime(c.start_at)}`));
      else if (triggered(c.trigger)) message.success(t(`自动化已启动：${name(c.trigger)}`, `Automation started: ${name(c.trigger)}`));
      else message.success(t(`活动已启动：实验组 ${fmtInt(r.counts?.treatment)} 人，对照组 ${fmtInt(r.counts?.holdout)} 人，正在发送`, `Launched: ${fmtInt(r.counts?.treatment)} treatment, ${fmtInt(r.counts?.holdout)} holdout; sending`));
      navigate(`/campaigns/${camp.id}/results`);
    } catch (e: any) {
      setError(e);
      if (e.field) form.setFields([{ name: e.field, errors: [e.message] }]);
    } finally {
      setLaunching(false);
    }
  };
  const createOffer = async () => {
    const v = await offerForm.validateFields();
    setOfferBusy(true);
    setOfferErr(null);
    try {
      const o = await post<Offer>('/offers', {
        name: v.name, categories: v.categories ?? [], skus: v.skus ?? [], link: v.link || '',
        valid_from: v.valid?.[0]?.toISOString() ?? '0001-01-01T00:00:00Z', valid_to: v.valid?.[1]?.toISOString() ?? '0001-01-01T00:00:00Z',
      });
      setOffers((x) => [...x, o]);
      form.setFieldValue('offer_id', o.id);
      setOfferOpen(false);
      offerForm.resetFields();
    } catch (e) {
      setOfferErr(e);
    } finally {
      setOfferBusy(false);
    }
  };

  const editable = can('marketer');
  const step = launching ? 2 : preview ? 1 : 0;
  const hours = Array.from({ length: 24 }, (_, h) => ({ value: h, label: `${String(h).padStart(2, '0')}:00` }));
  const defaultTemplate = t('{{name}}您好，我是您的营养顾问{{staff}}。送您一份{{offer}}，点此领取：{{link}}', 'Hello {{name}}, this is {{staff}}. Here is {{offer}} for you: {{link}}');
  const wecomTemplate = t('您好，我是您的营养顾问{{staff}}。送您一份{{offer}}，点此领取：{{link}}', 'Hello, this is {{staff}}. Here is {{offer}} for you: {{link}}');
  const onValuesChange = (changed: any) => {
    setPreview(null);
    // Switching to WeCom swaps the untouched default template for one
    // without per-person variables; a robot takes no per-person trigger.
    if (changed.channel === 'wecom' && form.getFieldValue('template') === defaultTemplate) form.setFieldValue('template', wecomTemplate);
    if (changed.channel && changed.channel !== 'wecom' && form.getFieldValue('template') === wecomTemplate) form.setFieldValue('template', defaultTemplate);
    if (changed.channel === 'robot' && form.getFieldValue('trigger') !== 'once') form.setFieldValue('trigger', 'once');
    if (changed.channel) form.setFieldValue('targets', []);
    if (changed.channel || changed.trigger) form.validateFields(['template', 'segment_id']).catch(() => {});
  };
  // A green dot: the channel is configured on this server; grey: not yet.
  const dot = (ok: boolean | undefined) => chans && (
    <Tooltip title={ok ? t('已配置', 'Configured') : t('未配置：可保存草稿，启动会被拒绝', 'Not configured: drafts save, launches are refused')}>
      <span className="channel-dot" style={{ background: ok ? '#52c41a' : '#bfbfbf' }} />
    </Tooltip>
  );
  const channelOptions = [
    { value: 'outbox', label: t('记录待发', 'Outbox') },
    { value: 'wecom', label: <>{t('企业微信一对一群发', 'WeCom one-to-one')}{dot(chans?.wecom)}</> },
    { value: 'webhook', label: <>{t('短信网关 / Webhook', 'SMS gateway / webhook')}{dot((chans?.webhooks.length ?? 0) > 0)}</> },
    { value: 'robot', label: <>{t('企业微信群机器人', 'WeCom group robot')}{dot((chans?.robots.length ?? 0) > 0)}</> },
  ];
  const channelHint = {
    outbox: t('只记录每位客户的个性化消息（发件箱），不实际发出：用于演示、审核或交给其他系统发送。', 'Records each recipient\'s personalised message in the outbox without sending: demo, review, or hand-over.'),
    wecom: chans && !chans.wecom
      ? <Typography.Text type="warning">{t('企业微信客户联系尚未配置（CDP_WECOM_CORP_ID、CDP_WECOM_SECRET）：可以保存草稿，启动会被拒绝。', 'WeCom customer contact is not configured (CDP_WECOM_CORP_ID, CDP_WECOM_SECRET): drafts save, launches are refused.')}</Typography.Text>
      : t('按客户所属员工创建群发任务，员工在企业微信中确认后发出；送达结果每 5 分钟回传。', 'Creates a mass-message task per owning staff member, sent once they confirm in WeCom; delivery results come back every 5 minutes.'),
    webhook: t('把每位客户的消息（含解密后的手机号）签名推送到配置的短信网关或 CRM。', 'Posts each recipient\'s message (with the decrypted phone) to a configured SMS gateway or CRM, signed.'),
    robot: t('通过群机器人向企业微信群发一条消息：按群发送，不逐人记录，没有对照组。', 'Posts one message into WeCom group chats through their robots: per group, no per-person sends, no holdout.'),
  }[channel];
  const targetNames = (channel === 'robot' ? chans?.robots : chans?.webhooks) ?? [];
  const triggerHint = {
    once: t('启动（或到定时时间）时向人群当前成员发送一次。', 'Sends once to the segment\'s members at launch (or at the set time).'),
    segment_entry: t('实时自动化：客户进入所选人群后数秒内自动触达；每位客户只触达一次，已在人群中的客户不会收到。', 'Live automation: people are sent to within seconds of entering the segment, once each; people already in it get nothing.'),
    replenishment: t('每小时找出预计即将补货的家庭（基于复购周期预测）并提醒；可限定在某个人群内。', 'Hourly, households predicted to buy again soon (from their repurchase cycle) are reminded; optionally within a segment.'),
  }[trigger];
  const segmentOptional = trigger === 'replenishment' || channel === 'robot';
  const varHelp: Record<string, string> = {
    name: t('客户称呼（企业微信备注名）', 'Customer name (WeCom)'), staff: t('所属员工', 'Owning staff member'), offer: t('优惠名称', 'Offer name'),
    link: t('领取链接', 'Offer link'), coupon: t('每人一个券码', 'One coupon code per person'),
  };
  return (
    <>
      <PageTitle title={camp ? <>{camp.name} <Tag>{name(camp.status)}</Tag></> : t('创建营销活动', 'New campaign')}
        sub={t('选择优惠与人群，设置对照组、触达频次与免打扰时段，预览后启动', 'Pick an offer and a segment, set holdout, caps and quiet hours, preview, launch')}
        extra={<Link to="/campaigns">{t('返回活动列表', 'Back to campaigns')}</Link>} />
      <Card bordered={false} style={{ marginBottom: 16 }}>
        <Steps current={step} items={[
          { title: t('活动设置', 'Set up') },
          { title: t('预览发送计划', 'Preview the plan') },
          { title: t('启动发送', 'Launch'), description: launching ? t('正在写入发送计划，等待服务器确认…', 'Writing the plan; waiting for the server…') : undefined },
        ]} />
      </Card>
      {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={14}>
          <Card bordered={false}>
            <Form form={form} layout="vertical" disabled={!editable || launching}
              initialValues={{ channel: 'outbox', trigger: 'once', targets: [], replenish_kind: 'rice', lead_days: 3, holdout_percent: 10, global_control_percent: 0,
                cap_per_day: 0, cap_per_week: 2, cap_per_month: 0, quiet_start: 21, quiet_end: 8, send_limit: 0, attribution_days: 14, schedule: 'now', template: defaultTemplate }}
              onValuesChange={onValuesChange}>
              <Form.Item name="name" label={t('活动名称', 'Campaign name')} rules={[{ required: true, message: t('请填写活动名称', 'Name is required') }, { max: 100 }]}>
                <Input placeholder={t('例如：控糖人群低GI大米试用装', 'e.g. Low-GI rice trial for blood-sugar audience')} data-testid="campaign-name" />
              </Form.Item>
              <Form.Item name="channel" label={t('触达渠道', 'Channel')} extra={channelHint}>
                <Radio.Group data-testid="channel" optionType="button" buttonStyle="solid" options={channelOptions} />
              </Form.Item>
              {(channel === 'robot' || channel === 'webhook') && (
                <Form.Item name="targets" label={channel === 'robot' ? t('发送到的群（群机器人）', 'Group chats (robots)') : t('短信网关 / Webhook', 'SMS gateway / webhook')}
                  rules={[{ required: true, type: 'array', min: 1, message: channel === 'robot' ? t('请选择至少一个群机器人', 'Choose at least one robot') : t('请选择一个 Webhook', 'Choose a webhook') }]}
                  getValueProps={(v) => ({ value: channel === 'webhook' ? v?.[0] : v })}
                  normalize={(v) => (v == null ? [] : Array.isArray(v) ? v : [v])}
                  extra={targetNames.length === 0
                    ? <Typography.Text type="warning">{channel === 'robot' ? t('尚未配置群机器人：在 CDP_WECOM_ROBOTS 中按「名称=Webhook 地址」配置后重启 cdp serve。', 'No robots configured: set CDP_WECOM_ROBOTS (name=webhook URL) and restart cdp serve.') : t('尚未配置 Webhook：在 CDP_WEBHOOKS 中按「名称=地址|密钥」配置后重启 cdp serve。', 'No webhooks configured: set CDP_WEBHOOKS (name=URL|secret) and restart cdp serve.')}</Typography.Text>
                    : channel === 'robot' ? t('每个群发一条 Markdown 消息，不逐人发送、不设对照组。', 'One markdown post per group chat; no per-person sends, no holdout.') : t('每 500 人一批签名推送，网关按 Idempotency-Key 去重。', 'Signed posts of 500 recipients each; the gateway deduplicates on Idempotency-Key.')}>
                  <Select mode={channel === 'robot' ? 'multiple' : undefined} allowClear data-testid="targets"
                    placeholder={channel === 'robot' ? t('选择群机器人（可多选）', 'Choose robots') : t('选择一个 Webhook', 'Choose a webhook')}
                    options={targetNames.map((n) => ({ value: n, label: n }))} notFoundContent={t('未配置', 'None configured')} />
                </Form.Item>
              )}
              <Form.Item name="trigger" label={t('触发方式', 'Trigger')} extra={triggerHint}>
                <Radio.Group data-testid="trigger">
                  <Radio value="once">{t('一次性发送', 'Send once')}</Radio>
                  <Tooltip title={channel === 'robot' ? t('群机器人按群发送，只能一次性发送', 'A robot posts to groups once: no per-person trigger') : undefined}>
                    <Radio value="segment_entry" disabled={channel === 'robot' || undefined} data-testid="trigger-segment-entry">{t('进入人群即触发', 'On segment entry')}</Radio>
                  </Tooltip>
                  <Tooltip title={channel === 'robot' ? t('群机器人按群发送，只能一次性发送', 'A robot posts to groups once: no per-person trigger') : undefined}>
                    <Radio value="replenishment" disabled={channel === 'robot' || undefined} data-testid="trigger-replenishment">{t('补货提醒', 'Replenishment reminder')}</Radio>
                  </Tooltip>
                </Radio.Group>
              </Form.Item>
              {trigger === 'replenishment' && (
                <Row gutter={16}>
                  <Col span={12}>
                    <Form.Item name="replenish_kind" label={t('补货品类', 'Product')} rules={[{ required: true }]}>
                      <Radio.Group optionType="button" options={[{ value: 'rice', label: t('大米', 'Rice') }, { value: 'oil', label: t('食用油', 'Cooking oil') }]} />
                    </Form.Item>
                  </Col>
                  <Col span={12}>
                    <Form.Item name="lead_days" label={t('提前提醒', 'Remind ahead')} tooltip={t('预计下次购买日在今天到 N 天内的家庭会收到提醒（北京时间）', 'Households whose predicted next purchase falls between today and N days from now (Beijing time)')}>
                      <InputNumber min={0} max={30} addonAfter={t('天', 'days')} style={{ width: '100%' }} />
                    </Form.Item>
                  </Col>
                </Row>
              )}
              <Row gutter={16}>
                <Col span={12}>
                  <Form.Item label={t('优惠', 'Offer')} required>
                    <Space.Compact style={{ width: '100%' }}>
                      <Form.Item name="offer_id" noStyle rules={[{ required: true, message: t('请选择优惠', 'Choose an offer') }]}>
                        <Select placeholder={t('选择优惠', 'Choose an offer')} options={offers.map((o) => ({ value: o.id, label: o.name }))} data-testid="offer-select" />
                      </Form.Item>
                      <Tooltip title={t('新建优惠', 'New offer')}><Button icon={<PlusOutlined />} onClick={() => setOfferOpen(true)} data-testid="new-offer" /></Tooltip>
                    </Space.Compact>
                    {offer && <Typography.Text type="secondary" style={{ fontSize: 12 }}>{t('转化口径：购买', 'Converts on: ')}{[...(offer.categories ?? []), ...(offer.skus ?? [])].join('、')}</Typography.Text>}
                  </Form.Item>
                </Col>
                <Col span={12}>
                  <Form.Item name="segment_id" label={segmentOptional ? t('目标人群（可选）', 'Segment (optional)') : t('目标人群', 'Segment')}
                    rules={segmentOptional ? [] : [{ required: true, message: trigger === 'segment_entry' ? t('进入人群即触发需要选择人群', 'A segment-entry campaign needs its segment') : t('请选择人群', 'Choose a segment') }]}
                    extra={segment ? `${t('当前', 'now')} ${fmtInt(segment.size)} ${t('人', 'people')}${trigger === 'segment_entry' && !segment.live ? t('（非实时人群：按重算进入）', ' (not live: entries come with recomputes)') : ''}`
                      : segmentOptional ? (channel === 'robot' ? t('群机器人不需要人群', 'Robots need no segment') : t('不选则面向所有到期家庭', 'Leave empty for every household due')) : undefined}>
                    <Select placeholder={t('选择人群', 'Choose a segment')} showSearch allowClear={segmentOptional} optionFilterProp="label" options={segments.map((s) => ({ value: s.id, label: s.name }))} data-testid="segment-select" />
                  </Form.Item>
                </Col>
              </Row>
              <Row gutter={48}>
                <Col span={12}>
                  <Form.Item name="holdout_percent" label={t('对照组比例', 'Holdout')} tooltip={t('随机留出不发送的客户，用来衡量真实提升', 'A random share not sent to, to measure the true uplift')}>
                    <Slider min={0} max={50} disabled={channel === 'robot' || undefined} marks={{ 0: '0%', 10: '10%', 20: '20%', 50: '50%' }} tooltip={{ formatter: (v) => `${v}%` }} />
                  </Form.Item>
                </Col>
                <Col span={12}>
                  <Form.Item name="global_control_percent" label={t('全局对照组', 'Global control')} tooltip={t('所有活动都不触达的客户比例', 'Share of customers no campaign reaches')}>
                    <Slider min={0} max={20} disabled={channel === 'robot' || undefined} marks={{ 0: '0%', 5: '5%', 20: '20%' }} tooltip={{ formatter: (v) => `${v}%` }} />
                  </Form.Item>
                </Col>
              </Row>
              <Form.Item label={t('每人触达上限（跨所有活动、所有渠道）', 'Caps per person (all campaigns, all channels)')} style={{ marginBottom: 0 }}
                tooltip={t('已收到的活动消息达到任一上限的客户本次不发送（排除原因「触达频次已满」）；0 表示不限（每周上限为 0 时按 2 条）。', 'People who already got as many campaign messages as a cap allows are excluded (cap reached); 0 means no cap (a weekly 0 means 2).')}>
                <Row gutter={16}>
                  <Col span={8}><Form.Item name="cap_per_day"><InputNumber min={0} max={10} addonBefore={t('每天', 'Day')} addonAfter={t('条', 'msgs')} style={{ width: '100%' }} data-testid="cap-day" /></Form.Item></Col>
                  <Col span={8}><Form.Item name="cap_per_week"><InputNumber min={0} max={14} addonBefore={t('每周', 'Week')} addonAfter={t('条', 'msgs')} style={{ width: '100%' }} data-testid="cap-week" /></Form.Item></Col>
                  <Col span={8}><Form.Item name="cap_per_month"><InputNumber min={0} max={60} addonBefore={t('每月', 'Month')} addonAfter={t('条', 'msgs')} style={{ width: '100%' }} data-testid="cap-month" /></Form.Item></Col>
                </Row>
              </Form.Item>
              {channel === 'wecom' && chans && (
                <Typography.Paragraph type="secondary" style={{ fontSize: 12, marginTop: -8 }}>
                  {t(`企业微信另限每位客户每天最多收到 ${chans.wecom_daily_cap} 条群发（所有活动合计），超出的客户排除为「渠道群发次数已满」。`, `WeCom also lets each customer receive at most ${chans.wecom_daily_cap} mass message(s) a day (all campaigns); others are excluded as channel cap reached.`)}
                </Typography.Paragraph>
              )}
              <Row gutter={16}>
                <Col span={8}>
                  <Form.Item name="send_limit" label={t('发送上限', 'Send limit')} tooltip={triggered(trigger) ? t('自动化累计发送人数上限；0 表示不限', 'Total sends the automation may plan; 0: no limit') : t('0 表示不限', '0: no limit')}><InputNumber min={0} style={{ width: '100%' }} /></Form.Item>
                </Col>
                <Col span={8}>
                  <Form.Item name="attribution_days" label={t('归因窗口', 'Attribution')}><InputNumber min={1} max={90} addonAfter={t('天', 'days')} style={{ width: '100%' }} /></Form.Item>
                </Col>
                <Col span={8}>
                  <Form.Item label={t('免打扰时段', 'Quiet hours')} tooltip={triggered(trigger) ? t('自动化在免打扰时段内暂缓发送，结束后补发', 'Automations hold sends during quiet hours and send when they end') : t('一次性发送时，免打扰时段内的客户本次不发送；起止相同表示不设', 'Sending once excludes people inside quiet hours; the same start and end means none')}>
                    <Space.Compact>
                      <Form.Item name="quiet_start" noStyle><Select options={hours} style={{ width: 84 }} virtual={false} listHeight={260} /></Form.Item>
                      <Form.Item name="quiet_end" noStyle><Select options={hours} style={{ width: 84 }} virtual={false} listHeight={260} /></Form.Item>
                    </Space.Compact>
                  </Form.Item>
                </Col>
              </Row>
              <Row gutter={16}>
                <Col span={triggered(trigger) ? 14 : 24}>
                  <Form.Item label={t('发送时间', 'Schedule')} required={schedule === 'later'}>
                    <Space wrap>
                      <Form.Item name="schedule" noStyle>
                        <Radio.Group data-testid="schedule">
                          <Radio value="now">{triggered(trigger) ? t('启动后立即开始', 'Start on launch') : t('启动后立即发送', 'Send on launch')}</Radio>
                          <Radio value="later">{t('定时发送', 'At a set time')}</Radio>
                        </Radio.Group>
                      </Form.Item>
                      {schedule === 'later' && (
                        <Form.Item name="start_at" noStyle rules={[{ required: true, message: t('请选择开始时间', 'Choose the start') }]}>
                          <DatePicker showTime={{ format: 'HH:mm' }} format="YYYY-MM-DD HH:mm" placeholder={t('开始时间', 'Start at')} data-testid="start-at"
                            disabledDate={(d) => d.isBefore(dayjs().startOf('day'))} />
                        </Form.Item>
                      )}
                    </Space>
                    {schedule === 'later' && <div><Typography.Text type="secondary" style={{ fontSize: 12 }}>{t('启动后状态为「已排期」，到点自动开始（北京时间）。', 'After launch the campaign is scheduled and starts by itself at that time (Beijing time).')}</Typography.Text></div>}
                  </Form.Item>
                </Col>
                {triggered(trigger) && (
                  <Col span={10}>
                    <Form.Item name="end_at" label={t('结束时间（可选）', 'End (optional)')} tooltip={t('到点后自动化停止，活动变为「已完成」', 'The automation stops then and the campaign finishes')}
                      dependencies={['start_at', 'schedule']}
                      rules={[({ getFieldValue }) => ({ validator: (_, v: Dayjs | undefined) => {
                        const start: Dayjs | undefined = getFieldValue('schedule') === 'later' ? getFieldValue('start_at') : undefined;
                        return !v || !start || v.isAfter(start) ? Promise.resolve() : Promise.reject(new Error(t('结束时间须晚于开始时间', 'The end must be after the start')));
                      } })]}>
                      <DatePicker showTime={{ format: 'HH:mm' }} format="YYYY-MM-DD HH:mm" placeholder={t('不设则一直运行', 'None: runs until stopped')} style={{ width: '100%' }} data-testid="end-at"
                        disabledDate={(d) => d.isBefore(dayjs().startOf('day'))} />
                    </Form.Item>
                  </Col>
                )}
              </Row>
              {channel === 'wecom' && (
                <Alert type="info" showIcon style={{ marginBottom: 12 }} data-testid="wecom-template-hint"
                  message={t('企业微信群发：每位员工一条群发任务，发给其名下所有客户同一段文字', 'WeCom mass messages: one task per staff member, one text for all of their customers')}
                  description={t('因此模板只能使用 {{staff}}、{{offer}}、{{link}}；含 {{name}} 或 {{coupon}} 的模板保存时会被拒绝。员工在企业微信中确认后才会发出。',
                    'So the template may use {{staff}}, {{offer}} and {{link}} only; {{name}} or {{coupon}} is refused on save. Messages go out once the staff member confirms in WeCom.')} />
              )}
              <Form.Item name="template" label={t('消息模板', 'Message template')}
                rules={[{ required: true, message: t('请填写消息内容', 'Template is required') },
                  { warningOnly: true, validator: (_, v: string) => (channel === 'wecom' && perPerson.some((x) => (v || '').includes(`{{${x}}}`))
                    ? Promise.reject(new Error(t('企业微信渠道不能使用 {{name}} 或 {{coupon}}，保存时会被拒绝', 'WeCom cannot use {{name}} or {{coupon}}: saving will be refused')))
                    : Promise.resolve()) }]}
                extra={<Space wrap size={4}>{t('插入变量：', 'Insert: ')}{vars.map((v) => {
                  const off = channel === 'wecom' && perPerson.includes(v);
                  return (
                    <Tooltip key={v} title={off ? t('企业微信群发同一段文字，不能逐人替换', 'A WeCom mass message is one text: no per-person values') : varHelp[v]}>
                      <Tag color={off ? 'default' : 'blue'} style={{ cursor: off ? 'not-allowed' : 'pointer', opacity: off ? 0.55 : 1 }}
                        onClick={() => !off && form.setFieldValue('template', (form.getFieldValue('template') || '') + `{{${v}}}`)}>{`{{${v}}}`}</Tag>
                    </Tooltip>
                  );
                })}</Space>}>
                <Input.TextArea autoSize={{ minRows: 3, maxRows: 6 }} data-testid="template" />
              </Form.Item>
            </Form>
            <Divider style={{ margin: '8px 0 16px' }} />
            <Space>
              <Button icon={<SaveOutlined />} loading={saving && !previewing} onClick={save} disabled={!editable || launching} data-testid="save-campaign">{t('保存草稿', 'Save draft')}</Button>
              <Button icon={<EyeOutlined />} loading={previewing} onClick={doPreview} disabled={!editable || launching} data-testid="preview-campaign">{t('预览发送计划', 'Preview plan')}</Button>
              <Popconfirm title={t('确认启动活动？', 'Launch this campaign?')} description={t('启动后将按计划发送，无法撤回。', 'Messages go out as planned; this cannot be undone.')}
                onConfirm={launch} okText={t('启动', 'Launch')} cancelText={t('取消', 'Cancel')} okButtonProps={{ 'data-testid': 'confirm-launch' } as any} disabled={!preview}>
                <Button type="primary" icon={<RocketOutlined />} loading={launching} disabled={!editable || !preview} data-testid="launch-campaign">
                  {launching ? t('启动中…', 'Launching…') : schedule === 'later' ? t('排期发送', 'Schedule') : t('启动活动', 'Launch')}
                </Button>
              </Popconfirm>
              {!preview && editable && <Typography.Text type="secondary">{t('先预览发送计划再启动', 'Preview the plan before launching')}</Typography.Text>}
            </Space>
          </Card>
        </Col>
        <Col xs={24} xl={10}>
          <Card bordered={false} title={t('消息预览', 'Message preview')} extra={<Typography.Text type="secondary">{t('示例客户', 'sample customer')}</Typography.Text>}>
            <div className="preview-phone"><div className="preview-msg" data-testid="message-preview">{rendered || ' '}</div></div>
          </Card>
          <Card bordered={false} title={t('发送计划', 'Send plan')} style={{ marginTop: 16 }}>
            <Spin spinning={previewing} tip={t('正在计算发送计划…', 'Planning…')}>
              {preview ? (
                <div data-testid="plan">
                  <Row gutter={8}>
                    <Col span={8}><Statistic title={t('实验组（发送）', 'Treatment (sent)')} value={preview.counts.treatment ?? 0} valueStyle={{ color: '#1677ff' }} formatter={(v) => <span data-testid="plan-treatment">{fmtInt(Number(v))}</span>} /></Col>
                    <Col span={8}><Statistic title={t('对照组', 'Holdout')} value={preview.counts.holdout ?? 0} /></Col>
                    <Col span={8}><Statistic title={t('已排除', 'Excluded')} value={preview.counts.excluded ?? 0} valueStyle={{ color: '#fa8c16' }} /></Col>
                  </Row>
                  <Table size="small" style={{ marginTop: 12 }} pagination={false} rowKey="reason"
                    dataSource={Object.entries(preview.excluded || {}).map(([reason, n]) => ({ reason, n, h: preview.holdout_excluded?.[reason] ?? 0 }))
                      .concat(Object.entries(preview.holdout_excluded || {}).filter(([r]) => !(preview.excluded || {})[r]).map(([reason, h]) => ({ reason, n: 0, h })))}
                    locale={{ emptyText: t('无排除', 'Nobody excluded') }} data-testid="plan-excluded"
                    columns={[{ title: t('排除原因', 'Excluded because'), dataIndex: 'reason', render: (v) => name(v) }, { title: t('人数', 'People'), dataIndex: 'n', align: 'right', render: fmtInt },
                      { title: <Tooltip title={t('频次上限、渠道上限、免打扰和发送上限对对照组同样适用：若分入实验组也不会发送的对照组客户一并排除，两组才可比。', 'Caps, the channel cap, quiet hours and the send limit apply to the holdout too: holdout people who would not have been sent to leave it, so both groups stay comparable.')}>{t('其中对照组', 'of them, holdout')}</Tooltip>,
                        dataIndex: 'h', align: 'right', render: (v: number) => (v ? fmtInt(v) : '–') }]} />
                  {(preview.samples ?? []).length > 0 && <>
                    <Typography.Title level={5} style={{ marginTop: 16 }}>{t('个性化示例（服务端渲染）', 'Personalised samples (rendered by the server)')}</Typography.Title>
                    {(preview.samples ?? []).map((s, i) => <div key={i} className="preview-msg" style={{ background: '#f6ffed' }}>{s}</div>)}
                  </>}
                  {triggered(trigger) && <Alert type="info" showIcon style={{ marginTop: 12 }} data-testid="plan-trigger-note" message={trigger === 'segment_entry'
                    ? t('进入人群即触发：以上是当前成员的参考计划；启动后只触达之后新进入人群的客户。', 'On segment entry: this is a reference plan over today\'s members; after launch only people entering from then on are sent to.')
                    : t('补货提醒：以上是当前的参考计划；启动后每小时重新找出到期家庭。', 'Replenishment: this is a reference plan; after launch households coming due are found every hour.')} />}
                  {(preview.counts.treatment ?? 0) === 0 && !triggered(trigger) && <Alert type="warning" showIcon style={{ marginTop: 12 }} message={t('没有可发送的客户：检查人群、同意记录与频次上限。', 'Nobody to send to: check the segment, consents and caps.')} />}
                </div>
              ) : (
                <Typography.Text type="secondary">{t('点击「预览发送计划」，查看实验组、对照组与各类排除人数（不会发送任何消息）。', 'Click “Preview plan” to see treatment, holdout and exclusions (nothing is sent).')}</Typography.Text>
              )}
            </Spin>
          </Card>
        </Col>
      </Row>
      <Modal open={offerOpen} title={t('新建优惠', 'New offer')} onCancel={() => setOfferOpen(false)} onOk={createOffer} confirmLoading={offerBusy} okText={t('创建', 'Create')} cancelText={t('取消', 'Cancel')}>
        <Form form={offerForm} layout="vertical">
          <Form.Item name="name" label={t('优惠名称', 'Name')} rules={[{ required: true }]}><Input placeholder={t('低GI大米试用装 500g', 'Low-GI rice trial pack 500 g')} data-testid="offer-name" /></Form.Item>
          <Form.Item name="categories" label={t('转化品类', 'Converting categories')} tooltip={t('购买这些品类算作转化', 'Buying these counts as a conversion')}>
            <Select mode="tags" placeholder={t('输入品类后回车', 'Type, press Enter')} options={['低GI大米', '五常大米', '高油酸花生油', '花生油', '小包装油'].map((v) => ({ value: v }))} data-testid="offer-categories" />
          </Form.Item>
          <Form.Item name="skus" label="SKU"><Select mode="tags" /></Form.Item>
          <Form.Item name="link" label={t('领取链接', 'Link')}><Input placeholder="https://" /></Form.Item>
          <Form.Item name="valid" label={t('有效期', 'Valid')}><DatePicker.RangePicker style={{ width: '100%' }} /></Form.Item>
        </Form>
        {offerErr ? <ErrorAlert error={offerErr} /> : null}
      </Modal>
    </>
  );
}
