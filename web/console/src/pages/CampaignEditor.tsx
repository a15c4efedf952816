import { useEffect, useMemo, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { Alert, App, Button, Card, Col, DatePicker, Divider, Form, Input, InputNumber, Modal, Popconfirm, Radio, Row, Select, Slider, Space, Spin, Statistic, Steps, Table, Tag, Tooltip, Typography } from 'antd';
import { EyeOutlined, PlusOutlined, RocketOutlined, SaveOutlined } from '@ant-design/icons';
import dayjs, { Dayjs } from 'dayjs';
import { api, Campaign, ChannelSettings, get, Launched, Offer, post, Preview, Segment } from '../api';
import { useAuth } from '../auth';
import { useTranslation } from 'react-i18next';
import { useName } from '../i18n';
import { ErrorAlert, fmtInt, fmtTime, PageTitle } from '../components/common';


const vars = ['name', 'staff', 'offer', 'link', 'coupon'];
// A WeCom mass-message task carries one text for all of a staff member's
// customers: the API refuses per-person variables on that channel.
const perPerson = ['name', 'coupon'];
const zeroTime = '0001-01-01T00:00:00Z';
const isSet = (s?: string) => !!s && !s.startsWith('0001');
const triggered = (trigger?: string) => trigger === 'segment_entry' || trigger === 'replenishment';

export default function CampaignEditor() {
  const { t } = useTranslation();
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
    const v: Record<string, string> = { name: t('campaignEditor.mrsWang'), staff: t('campaignEditor.liNutritionAdviser'), offer: offer?.name || t('campaignEditor.offer'), link: offer?.link || 'https://…', coupon: 'LGI-8F3K' };
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
      if (c.status === 'scheduled') message.success(t('campaignEditor.scheduledSendingStarts', { start_at: fmtTime(c.start_at) }));
      else if (triggered(c.trigger)) message.success(t('campaignEditor.automationStarted', { trigger: name(c.trigger) }));
      else message.success(t('campaignEditor.launchedTreatmentHoldoutSending', { treatment: fmtInt(r.counts?.treatment), holdout: fmtInt(r.counts?.holdout) }));
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
  const defaultTemplate = t('campaignEditor.helloNameStaffHere');
  const wecomTemplate = t('campaignEditor.helloStaffHereOffer');
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
    <Tooltip title={ok ? t('campaignEditor.configured') : t('campaignEditor.notConfiguredDraftsSave')}>
      <span className="channel-dot" style={{ background: ok ? '#52c41a' : '#bfbfbf' }} />
    </Tooltip>
  );
  const channelOptions = [
    { value: 'outbox', label: t('campaignEditor.outbox') },
    { value: 'wecom', label: <>{t('campaignEditor.wecomOneOne')}{dot(chans?.wecom)}</> },
    { value: 'webhook', label: <>{t('campaignEditor.smsGatewayWebhook')}{dot((chans?.webhooks.length ?? 0) > 0)}</> },
    { value: 'robot', label: <>{t('campaignEditor.wecomGroupRobot')}{dot((chans?.robots.length ?? 0) > 0)}</> },
  ];
  const channelHint = {
    outbox: t('campaignEditor.recordsEachRecipientsPersonalised'),
    wecom: chans && !chans.wecom
      ? <Typography.Text type="warning">{t('campaignEditor.wecomCustomerContactNot')}</Typography.Text>
      : t('campaignEditor.createsMassMessageTask'),
    webhook: t('campaignEditor.postsEachRecipientsMessage'),
    robot: t('campaignEditor.postsOneMessageInto'),
  }[channel];
  const targetNames = (channel === 'robot' ? chans?.robots : chans?.webhooks) ?? [];
  const triggerHint = {
    once: t('campaignEditor.sendsOnceSegmentsMembers'),
    segment_entry: t('campaignEditor.liveAutomationPeopleSent'),
    replenishment: t('campaignEditor.hourlyHouseholdsPredictedBuy'),
  }[trigger];
  const segmentOptional = trigger === 'replenishment' || channel === 'robot';
  const varHelp: Record<string, string> = {
    name: t('campaignEditor.customerNameWecom'), staff: t('campaignEditor.owningStaffMember'), offer: t('campaignEditor.offerName'),
    link: t('campaignEditor.offerLink'), coupon: t('campaignEditor.oneCouponCodePer'),
  };
  return (
    <>
      <PageTitle title={camp ? <>{camp.name} <Tag>{name(camp.status)}</Tag></> : t('campaignEditor.newCampaign')}
        sub={t('campaignEditor.pickOfferSegmentSet')}
        extra={<Link to="/campaigns">{t('common.backCampaigns')}</Link>} />
      <Card bordered={false} style={{ marginBottom: 16 }}>
        <Steps current={step} items={[
          { title: t('campaignEditor.setUp') },
          { title: t('campaignEditor.previewPlan') },
          { title: t('campaignEditor.launch'), description: launching ? t('campaignEditor.writingPlanWaitingServer') : undefined },
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
              <Form.Item name="name" label={t('campaignEditor.campaignName')} rules={[{ required: true, message: t('campaignEditor.nameRequired') }, { max: 100 }]}>
                <Input placeholder={t('campaignEditor.eGLowGi')} data-testid="campaign-name" />
              </Form.Item>
              <Form.Item name="channel" label={t('campaignEditor.channel')} extra={channelHint}>
                <Radio.Group data-testid="channel" optionType="button" buttonStyle="solid" options={channelOptions} />
              </Form.Item>
              {(channel === 'robot' || channel === 'webhook') && (
                <Form.Item name="targets" label={channel === 'robot' ? t('campaignEditor.groupChatsRobots') : t('campaignEditor.smsGatewayWebhook')}
                  rules={[{ required: true, type: 'array', min: 1, message: channel === 'robot' ? t('campaignEditor.chooseLeastOneRobot') : t('campaignEditor.chooseWebhookRequired') }]}
                  getValueProps={(v) => ({ value: channel === 'webhook' ? v?.[0] : v })}
                  normalize={(v) => (v == null ? [] : Array.isArray(v) ? v : [v])}
                  extra={targetNames.length === 0
                    ? <Typography.Text type="warning">{channel === 'robot' ? t('campaignEditor.noRobotsConfiguredSet') : t('campaignEditor.noWebhooksConfiguredSet')}</Typography.Text>
                    : channel === 'robot' ? t('campaignEditor.oneMarkdownPostPer') : t('campaignEditor.signedPostsRecipientsEach')}>
                  <Select mode={channel === 'robot' ? 'multiple' : undefined} allowClear data-testid="targets"
                    placeholder={channel === 'robot' ? t('campaignEditor.chooseRobots') : t('campaignEditor.chooseWebhookPlaceholder')}
                    options={targetNames.map((n) => ({ value: n, label: n }))} notFoundContent={t('campaignEditor.noneConfigured')} />
                </Form.Item>
              )}
              <Form.Item name="trigger" label={t('common.trigger')} extra={triggerHint}>
                <Radio.Group data-testid="trigger">
                  <Radio value="once">{t('campaignEditor.sendOnce')}</Radio>
                  <Tooltip title={channel === 'robot' ? t('campaignEditor.robotPostsGroupsOnce') : undefined}>
                    <Radio value="segment_entry" disabled={channel === 'robot' || undefined} data-testid="trigger-segment-entry">{t('campaignEditor.segmentEntry')}</Radio>
                  </Tooltip>
                  <Tooltip title={channel === 'robot' ? t('campaignEditor.robotPostsGroupsOnce') : undefined}>
                    <Radio value="replenishment" disabled={channel === 'robot' || undefined} data-testid="trigger-replenishment">{t('campaignEditor.replenishmentReminder')}</Radio>
                  </Tooltip>
                </Radio.Group>
              </Form.Item>
              {trigger === 'replenishment' && (
                <Row gutter={16}>
                  <Col span={12}>
                    <Form.Item name="replenish_kind" label={t('campaignEditor.product')} rules={[{ required: true }]}>
                      <Radio.Group optionType="button" options={[{ value: 'rice', label: t('campaignEditor.rice') }, { value: 'oil', label: t('campaignEditor.cookingOil') }]} />
                    </Form.Item>
                  </Col>
                  <Col span={12}>
                    <Form.Item name="lead_days" label={t('campaignEditor.remindAhead')} tooltip={t('campaignEditor.householdsWhosePredictedNext')}>
                      <InputNumber min={0} max={30} addonAfter={t('common.days')} style={{ width: '100%' }} />
                    </Form.Item>
                  </Col>
                </Row>
              )}
              <Row gutter={16}>
                <Col span={12}>
                  <Form.Item label={t('common.offer')} required>
                    <Space.Compact style={{ width: '100%' }}>
                      <Form.Item name="offer_id" noStyle rules={[{ required: true, message: t('campaignEditor.chooseOfferRequired') }]}>
                        <Select placeholder={t('campaignEditor.chooseOfferPlaceholder')} options={offers.map((o) => ({ value: o.id, label: o.name }))} data-testid="offer-select" />
                      </Form.Item>
                      <Tooltip title={t('campaignEditor.newOffer')}><Button icon={<PlusOutlined />} onClick={() => setOfferOpen(true)} data-testid="new-offer" /></Tooltip>
                    </Space.Compact>
                    {offer && <Typography.Text type="secondary" style={{ fontSize: 12 }}>{t('campaignEditor.converts')}{[...(offer.categories ?? []), ...(offer.skus ?? [])].join('、')}</Typography.Text>}
                  </Form.Item>
                </Col>
                <Col span={12}>
                  <Form.Item name="segment_id" label={segmentOptional ? t('campaignEditor.segmentOptional') : t('common.segment')}
                    rules={segmentOptional ? [] : [{ required: true, message: trigger === 'segment_entry' ? t('campaignEditor.segmentEntryCampaignNeeds') : t('campaignEditor.chooseSegment') }]}
                    extra={segment ? `${t('campaignEditor.now')} ${fmtInt(segment.size)} ${t('common.people')}${trigger === 'segment_entry' && !segment.live ? t('campaignEditor.notLiveEntriesCome') : ''}`
                      : segmentOptional ? (channel === 'robot' ? t('campaignEditor.robotsNeedNoSegment') : t('campaignEditor.leaveEmptyEveryHousehold')) : undefined}>
                    <Select placeholder={t('common.chooseSegment')} showSearch allowClear={segmentOptional} optionFilterProp="label" options={segments.map((s) => ({ value: s.id, label: s.name }))} data-testid="segment-select" />
                  </Form.Item>
                </Col>
              </Row>
              <Row gutter={48}>
                <Col span={12}>
                  <Form.Item name="holdout_percent" label={t('campaignEditor.holdout')} tooltip={t('campaignEditor.randomShareNotSent')}>
                    <Slider min={0} max={50} disabled={channel === 'robot' || undefined} marks={{ 0: '0%', 10: '10%', 20: '20%', 50: '50%' }} tooltip={{ formatter: (v) => `${v}%` }} />
                  </Form.Item>
                </Col>
                <Col span={12}>
                  <Form.Item name="global_control_percent" label={t('campaignEditor.globalControl')} tooltip={t('campaignEditor.shareCustomersNoCampaign')}>
                    <Slider min={0} max={20} disabled={channel === 'robot' || undefined} marks={{ 0: '0%', 5: '5%', 20: '20%' }} tooltip={{ formatter: (v) => `${v}%` }} />
                  </Form.Item>
                </Col>
              </Row>
              <Form.Item label={t('campaignEditor.capsPerPersonAll')} style={{ marginBottom: 0 }}
                tooltip={t('campaignEditor.peopleWhoAlreadyGot')}>
                <Row gutter={16}>
                  <Col span={8}><Form.Item name="cap_per_day"><InputNumber min={0} max={10} addonBefore={t('campaignEditor.day')} addonAfter={t('campaignEditor.msgs')} style={{ width: '100%' }} data-testid="cap-day" /></Form.Item></Col>
                  <Col span={8}><Form.Item name="cap_per_week"><InputNumber min={0} max={14} addonBefore={t('campaignEditor.week')} addonAfter={t('campaignEditor.msgs')} style={{ width: '100%' }} data-testid="cap-week" /></Form.Item></Col>
                  <Col span={8}><Form.Item name="cap_per_month"><InputNumber min={0} max={60} addonBefore={t('campaignEditor.month')} addonAfter={t('campaignEditor.msgs')} style={{ width: '100%' }} data-testid="cap-month" /></Form.Item></Col>
                </Row>
              </Form.Item>
              {channel === 'wecom' && chans && (
                <Typography.Paragraph type="secondary" style={{ fontSize: 12, marginTop: -8 }}>
                  {t('campaignEditor.wecomAlsoLetsEach', { wecom_daily_cap: chans.wecom_daily_cap })}
                </Typography.Paragraph>
              )}
              <Row gutter={16}>
                <Col span={8}>
                  <Form.Item name="send_limit" label={t('campaignEditor.sendLimit')} tooltip={triggered(trigger) ? t('campaignEditor.totalSendsAutomationMay') : t('campaignEditor.noLimit')}><InputNumber min={0} style={{ width: '100%' }} /></Form.Item>
                </Col>
                <Col span={8}>
                  <Form.Item name="attribution_days" label={t('campaignEditor.attribution')}><InputNumber min={1} max={90} addonAfter={t('common.days')} style={{ width: '100%' }} /></Form.Item>
                </Col>
                <Col span={8}>
                  <Form.Item label={t('campaignEditor.quietHours')} tooltip={triggered(trigger) ? t('campaignEditor.automationsHoldSendsDuring') : t('campaignEditor.sendingOnceExcludesPeople')}>
                    <Space.Compact>
                      <Form.Item name="quiet_start" noStyle><Select options={hours} style={{ width: 84 }} virtual={false} listHeight={260} /></Form.Item>
                      <Form.Item name="quiet_end" noStyle><Select options={hours} style={{ width: 84 }} virtual={false} listHeight={260} /></Form.Item>
                    </Space.Compact>
                  </Form.Item>
                </Col>
              </Row>
              <Row gutter={16}>
                <Col span={triggered(trigger) ? 14 : 24}>
                  <Form.Item label={t('campaignEditor.schedule')} required={schedule === 'later'}>
                    <Space wrap>
                      <Form.Item name="schedule" noStyle>
                        <Radio.Group data-testid="schedule">
                          <Radio value="now">{triggered(trigger) ? t('campaignEditor.startLaunch') : t('campaignEditor.sendLaunch')}</Radio>
                          <Radio value="later">{t('campaignEditor.setTime')}</Radio>
                        </Radio.Group>
                      </Form.Item>
                      {schedule === 'later' && (
                        <Form.Item name="start_at" noStyle rules={[{ required: true, message: t('campaignEditor.chooseStart') }]}>
                          <DatePicker showTime={{ format: 'HH:mm' }} format="YYYY-MM-DD HH:mm" placeholder={t('campaignEditor.start')} data-testid="start-at"
                            disabledDate={(d) => d.isBefore(dayjs().startOf('day'))} />
                        </Form.Item>
                      )}
                    </Space>
                    {schedule === 'later' && <div><Typography.Text type="secondary" style={{ fontSize: 12 }}>{t('campaignEditor.afterLaunchCampaignScheduled')}</Typography.Text></div>}
                  </Form.Item>
                </Col>
                {triggered(trigger) && (
                  <Col span={10}>
                    <Form.Item name="end_at" label={t('campaignEditor.endOptional')} tooltip={t('campaignEditor.automationStopsThenCampaign')}
                      dependencies={['start_at', 'schedule']}
                      rules={[({ getFieldValue }) => ({ validator: (_, v: Dayjs | undefined) => {
                        const start: Dayjs | undefined = getFieldValue('schedule') === 'later' ? getFieldValue('start_at') : undefined;
                        return !v || !start || v.isAfter(start) ? Promise.resolve() : Promise.reject(new Error(t('campaignEditor.endMustAfterStart')));
                      } })]}>
                      <DatePicker showTime={{ format: 'HH:mm' }} format="YYYY-MM-DD HH:mm" placeholder={t('campaignEditor.noneRunsUntilStopped')} style={{ width: '100%' }} data-testid="end-at"
                        disabledDate={(d) => d.isBefore(dayjs().startOf('day'))} />
                    </Form.Item>
                  </Col>
                )}
              </Row>
              {channel === 'wecom' && (
                <Alert type="info" showIcon style={{ marginBottom: 12 }} data-testid="wecom-template-hint"
                  message={t('campaignEditor.wecomMassMessagesOne')}
                  description={t('campaignEditor.soTemplateMayUse')} />
              )}
              <Form.Item name="template" label={t('campaignEditor.messageTemplate')}
                rules={[{ required: true, message: t('campaignEditor.templateRequired') },
                  { warningOnly: true, validator: (_, v: string) => (channel === 'wecom' && perPerson.some((x) => (v || '').includes(`{{${x}}}`))
                    ? Promise.reject(new Error(t('campaignEditor.wecomCannotUseName')))
                    : Promise.resolve()) }]}
                extra={<Space wrap size={4}>{t('campaignEditor.insert')}{vars.map((v) => {
                  const off = channel === 'wecom' && perPerson.includes(v);
                  return (
                    <Tooltip key={v} title={off ? t('campaignEditor.wecomMassMessageOne') : varHelp[v]}>
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
              <Button icon={<SaveOutlined />} loading={saving && !previewing} onClick={save} disabled={!editable || launching} data-testid="save-campaign">{t('campaignEditor.saveDraft')}</Button>
              <Button icon={<EyeOutlined />} loading={previewing} onClick={doPreview} disabled={!editable || launching} data-testid="preview-campaign">{t('campaignEditor.previewPlanButton')}</Button>
              <Popconfirm title={t('campaignEditor.launchCampaign')} description={t('campaignEditor.messagesGoOutPlanned')}
                onConfirm={launch} okText={t('campaignEditor.launchConfirm')} cancelText={t('common.cancel')} okButtonProps={{ 'data-testid': 'confirm-launch' } as any} disabled={!preview}>
                <Button type="primary" icon={<RocketOutlined />} loading={launching} disabled={!editable || !preview} data-testid="launch-campaign">
                  {launching ? t('campaignEditor.launching') : schedule === 'later' ? t('campaignEditor.scheduleButton') : t('campaignEditor.launchTitle')}
                </Button>
              </Popconfirm>
              {!preview && editable && <Typography.Text type="secondary">{t('campaignEditor.previewPlanBeforeLaunching')}</Typography.Text>}
            </Space>
          </Card>
        </Col>
        <Col xs={24} xl={10}>
          <Card bordered={false} title={t('campaignEditor.messagePreview')} extra={<Typography.Text type="secondary">{t('campaignEditor.sampleCustomer')}</Typography.Text>}>
            <div className="preview-phone"><div className="preview-msg" data-testid="message-preview">{rendered || ' '}</div></div>
          </Card>
          <Card bordered={false} title={t('campaignEditor.sendPlan')} style={{ marginTop: 16 }}>
            <Spin spinning={previewing} tip={t('campaignEditor.planning')}>
              {preview ? (
                <div data-testid="plan">
                  <Row gutter={8}>
                    <Col span={8}><Statistic title={t('campaignEditor.treatmentSent')} value={preview.counts.treatment ?? 0} valueStyle={{ color: '#1677ff' }} formatter={(v) => <span data-testid="plan-treatment">{fmtInt(Number(v))}</span>} /></Col>
                    <Col span={8}><Statistic title={t('common.holdout')} value={preview.counts.holdout ?? 0} /></Col>
                    <Col span={8}><Statistic title={t('campaignEditor.excluded')} value={preview.counts.excluded ?? 0} valueStyle={{ color: '#fa8c16' }} /></Col>
                  </Row>
                  <Table size="small" style={{ marginTop: 12 }} pagination={false} rowKey="reason"
                    dataSource={Object.entries(preview.excluded || {}).map(([reason, n]) => ({ reason, n, h: preview.holdout_excluded?.[reason] ?? 0 }))
                      .concat(Object.entries(preview.holdout_excluded || {}).filter(([r]) => !(preview.excluded || {})[r]).map(([reason, h]) => ({ reason, n: 0, h })))}
                    locale={{ emptyText: t('campaignEditor.nobodyExcluded') }} data-testid="plan-excluded"
                    columns={[{ title: t('campaignEditor.excludedBecause'), dataIndex: 'reason', render: (v) => name(v) }, { title: t('common.headcount'), dataIndex: 'n', align: 'right', render: fmtInt },
                      { title: <Tooltip title={t('campaignEditor.capsChannelCapQuiet')}>{t('campaignEditor.themHoldout')}</Tooltip>,
                        dataIndex: 'h', align: 'right', render: (v: number) => (v ? fmtInt(v) : '–') }]} />
                  {(preview.samples ?? []).length > 0 && <>
                    <Typography.Title level={5} style={{ marginTop: 16 }}>{t('campaignEditor.personalisedSamplesRenderedServer')}</Typography.Title>
                    {(preview.samples ?? []).map((s, i) => <div key={i} className="preview-msg" style={{ background: '#f6ffed' }}>{s}</div>)}
                  </>}
                  {triggered(trigger) && <Alert type="info" showIcon style={{ marginTop: 12 }} data-testid="plan-trigger-note" message={trigger === 'segment_entry'
                    ? t('campaignEditor.segmentEntryReferencePlan')
                    : t('campaignEditor.replenishmentReferencePlanAfter')} />}
                  {(preview.counts.treatment ?? 0) === 0 && !triggered(trigger) && <Alert type="warning" showIcon style={{ marginTop: 12 }} message={t('campaignEditor.nobodySendCheckSegment')} />}
                </div>
              ) : (
                <Typography.Text type="secondary">{t('campaignEditor.clickPreviewPlanSee')}</Typography.Text>
              )}
            </Spin>
          </Card>
        </Col>
      </Row>
      <Modal open={offerOpen} title={t('campaignEditor.newOffer')} onCancel={() => setOfferOpen(false)} onOk={createOffer} confirmLoading={offerBusy} okText={t('common.create')} cancelText={t('common.cancel')}>
        <Form form={offerForm} layout="vertical">
          <Form.Item name="name" label={t('campaignEditor.name')} rules={[{ required: true }]}><Input placeholder={t('campaignEditor.lowGiRiceTrial')} data-testid="offer-name" /></Form.Item>
          <Form.Item name="categories" label={t('campaignEditor.convertingCategories')} tooltip={t('campaignEditor.buyingTheseCountsConversion')}>
            <Select mode="tags" placeholder={t('campaignEditor.typePressEnter')} options={['低GI大米', '五常大米', '高油酸花生油', '花生油', '小包装油'].map((v) => ({ value: v }))} data-testid="offer-categories" />
          </Form.Item>
          <Form.Item name="skus" label="SKU"><Select mode="tags" /></Form.Item>
          <Form.Item name="link" label={t('campaignEditor.link')}><Input placeholder="https://" /></Form.Item>
          <Form.Item name="valid" label={t('campaignEditor.valid')}><DatePicker.RangePicker style={{ width: '100%' }} /></Form.Item>
        </Form>
        {offerErr ? <ErrorAlert error={offerErr} /> : null}
      </Modal>
    </>
  );
}
