import { useEffect, useMemo, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { Alert, App, Button, Card, Col, DatePicker, Divider, Form, Input, InputNumber, Modal, Popconfirm, Radio, Row, Select, Slider, Space, Spin, Statistic, Steps, Table, Tag, Tooltip, Typography } from 'antd';
import { EyeOutlined, PlusOutlined, RocketOutlined, SaveOutlined } from '@ant-design/icons';
import dayjs from 'dayjs';
import { api, Campaign, get, Offer, post, Segment } from '../api';
import { useAuth } from '../auth';
import { useName, useT } from '../i18n';
import { ErrorAlert, fmtInt, PageTitle } from '../components/common';

interface Preview { counts: Record<string, number>; excluded: Record<string, number>; samples: string[] | null }

const vars = ['name', 'staff', 'offer', 'link', 'coupon'];

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

  useEffect(() => {
    get<{ items: Offer[] }>('/offers').then((r) => setOffers(r.items)).catch(setError);
    get<{ items: Segment[] }>('/segments').then((r) => setSegments(r.items)).catch(setError);
  }, []);
  useEffect(() => {
    if (!id) return;
    get<Campaign>('/campaigns/' + id).then((c) => {
      if (c.status !== 'draft') navigate(`/campaigns/${id}/results`, { replace: true });
      setCamp(c);
      form.setFieldsValue(c);
    }).catch(setError);
  }, [id, form, navigate]);

  const offer = offers.find((o) => o.id === offerId);
  const segment = segments.find((s) => s.id === segmentId);
  const rendered = useMemo(() => {
    const v: Record<string, string> = { name: t('王阿姨', 'Mrs Wang'), staff: t('营养顾问小李', 'Li (nutrition adviser)'), offer: offer?.name || t('〔优惠名称〕', '[offer]'), link: offer?.link || 'https://…', coupon: 'LGI-8F3K' };
    return template.replace(/\{\{(\w+)\}\}/g, (m, k) => v[k] ?? m);
  }, [template, offer, t]);

  const body = (v: any) => ({
    name: v.name, offer_id: v.offer_id, segment_id: v.segment_id, channel: v.channel, template: v.template,
    holdout_percent: v.holdout_percent ?? 0, global_control_percent: v.global_control_percent ?? 0, cap_per_week: v.cap_per_week ?? 0,
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
    // The server plans, writes the send log and sends before it answers:
    // the button shows that running state until then.
    setLaunching(true);
    setError(null);
    try {
      const r = await post<{ campaign: Campaign; counts: Record<string, number> }>(`/campaigns/${camp.id}/launch`);
      message.success(t(`活动已启动：实验组 ${fmtInt(r.counts.treatment)} 人，对照组 ${fmtInt(r.counts.holdout)} 人`, `Launched: ${fmtInt(r.counts.treatment)} treatment, ${fmtInt(r.counts.holdout)} holdout`));
      navigate(`/campaigns/${camp.id}/results`);
    } catch (e) {
      setError(e);
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
  return (
    <>
      <PageTitle title={camp ? <>{camp.name} <Tag>{name(camp.status)}</Tag></> : t('创建营销活动', 'New campaign')}
        sub={t('选择优惠与人群，设置对照组、触达频次与免打扰时段，预览后启动', 'Pick an offer and a segment, set holdout, caps and quiet hours, preview, launch')}
        extra={<Link to="/campaigns">{t('返回活动列表', 'Back to campaigns')}</Link>} />
      <Card bordered={false} style={{ marginBottom: 16 }}>
        <Steps current={step} items={[
          { title: t('活动设置', 'Set up') },
          { title: t('预览发送计划', 'Preview the plan') },
          { title: t('启动发送', 'Launch'), description: launching ? t('正在计划并发送，等待服务器确认…', 'Planning and sending; waiting for the server…') : undefined },
        ]} />
      </Card>
      {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={14}>
          <Card bordered={false}>
            <Form form={form} layout="vertical" disabled={!editable || launching}
              initialValues={{ channel: 'outbox', holdout_percent: 10, global_control_percent: 0, cap_per_week: 2, quiet_start: 21, quiet_end: 8, send_limit: 0, attribution_days: 14, schedule: 'now',
                template: t('{{name}}您好，我是您的营养顾问{{staff}}。送您一份{{offer}}，点此领取：{{link}}', 'Hello {{name}}, this is {{staff}}. Here is {{offer}} for you: {{link}}') }}
              onValuesChange={() => setPreview(null)}>
              <Form.Item name="name" label={t('活动名称', 'Campaign name')} rules={[{ required: true, message: t('请填写活动名称', 'Name is required') }, { max: 100 }]}>
                <Input placeholder={t('例如：控糖人群低GI大米试用装', 'e.g. Low-GI rice trial for blood-sugar audience')} data-testid="campaign-name" />
              </Form.Item>
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
                  <Form.Item name="segment_id" label={t('目标人群', 'Segment')} rules={[{ required: true, message: t('请选择人群', 'Choose a segment') }]}
                    extra={segment && `${t('当前', 'now')} ${fmtInt(segment.size)} ${t('人', 'people')}`}>
                    <Select placeholder={t('选择人群', 'Choose a segment')} showSearch optionFilterProp="label" options={segments.map((s) => ({ value: s.id, label: s.name }))} data-testid="segment-select" />
                  </Form.Item>
                </Col>
              </Row>
              <Form.Item name="channel" label={t('触达渠道', 'Channel')}>
                <Radio.Group data-testid="channel">
                  <Radio.Button value="outbox">{t('发件箱（仅记录，用于演示与审核）', 'Outbox (record only: demo, review)')}</Radio.Button>
                  <Radio.Button value="wecom">{t('企业微信一对一群发', 'WeCom one-to-one')}</Radio.Button>
                </Radio.Group>
              </Form.Item>
              <Row gutter={48}>
                <Col span={12}>
                  <Form.Item name="holdout_percent" label={t('对照组比例', 'Holdout')} tooltip={t('随机留出不发送的客户，用来衡量真实提升', 'A random share not sent to, to measure the true uplift')}>
                    <Slider min={0} max={50} marks={{ 0: '0%', 10: '10%', 20: '20%', 50: '50%' }} tooltip={{ formatter: (v) => `${v}%` }} />
                  </Form.Item>
                </Col>
                <Col span={12}>
                  <Form.Item name="global_control_percent" label={t('全局对照组', 'Global control')} tooltip={t('所有活动都不触达的客户比例', 'Share of customers no campaign reaches')}>
                    <Slider min={0} max={20} marks={{ 0: '0%', 5: '5%', 20: '20%' }} tooltip={{ formatter: (v) => `${v}%` }} />
                  </Form.Item>
                </Col>
              </Row>
              <Row gutter={16}>
                <Col span={6}>
                  <Form.Item name="cap_per_week" label={t('每人每周上限', 'Cap per week')}><InputNumber min={0} max={14} addonAfter={t('条', 'msgs')} style={{ width: '100%' }} /></Form.Item>
                </Col>
                <Col span={6}>
                  <Form.Item name="send_limit" label={t('发送上限', 'Send limit')} tooltip={t('0 表示不限', '0: no limit')}><InputNumber min={0} style={{ width: '100%' }} /></Form.Item>
                </Col>
                <Col span={6}>
                  <Form.Item name="attribution_days" label={t('归因窗口', 'Attribution')}><InputNumber min={1} max={90} addonAfter={t('天', 'days')} style={{ width: '100%' }} /></Form.Item>
                </Col>
                <Col span={6}>
                  <Form.Item label={t('免打扰时段', 'Quiet hours')}>
                    <Space.Compact>
                      <Form.Item name="quiet_start" noStyle><Select options={hours} style={{ width: 84 }} virtual={false} listHeight={260} /></Form.Item>
                      <Form.Item name="quiet_end" noStyle><Select options={hours} style={{ width: 84 }} virtual={false} listHeight={260} /></Form.Item>
                    </Space.Compact>
                  </Form.Item>
                </Col>
              </Row>
              <Form.Item name="schedule" label={t('发送时间', 'Schedule')}
                extra={t('定时发送尚未由服务端支持；启动后立即按免打扰规则发送。', 'Scheduled sending is not supported by the server yet; a launch sends at once, honouring quiet hours.')}>
                <Radio.Group>
                  <Radio value="now">{t('启动后立即发送', 'Send on launch')}</Radio>
                  <Radio value="later" disabled>{t('定时发送', 'At a set time')} <DatePicker size="small" disabled showTime value={dayjs().add(1, 'day').hour(10).minute(0).second(0)} /></Radio>
                </Radio.Group>
              </Form.Item>
              <Form.Item name="template" label={t('消息模板', 'Message template')} rules={[{ required: true, message: t('请填写消息内容', 'Template is required') }]}
                extra={<Space wrap size={4}>{t('插入变量：', 'Insert: ')}{vars.map((v) => (
                  <Tag key={v} color="blue" style={{ cursor: 'pointer' }} onClick={() => form.setFieldValue('template', (form.getFieldValue('template') || '') + `{{${v}}}`)}>{`{{${v}}}`}</Tag>
                ))}</Space>}>
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
                  {launching ? t('发送中…', 'Sending…') : t('启动活动', 'Launch')}
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
                    dataSource={Object.entries(preview.excluded || {}).map(([reason, n]) => ({ reason, n }))}
                    locale={{ emptyText: t('无排除', 'Nobody excluded') }}
                    columns={[{ title: t('排除原因', 'Excluded because'), dataIndex: 'reason', render: (v) => name(v) }, { title: t('人数', 'People'), dataIndex: 'n', align: 'right', render: fmtInt }]} />
                  {(preview.samples ?? []).length > 0 && <>
                    <Typography.Title level={5} style={{ marginTop: 16 }}>{t('个性化示例（服务端渲染）', 'Personalised samples (rendered by the server)')}</Typography.Title>
                    {(preview.samples ?? []).map((s, i) => <div key={i} className="preview-msg" style={{ background: '#f6ffed' }}>{s}</div>)}
                  </>}
                  {(preview.counts.treatment ?? 0) === 0 && <Alert type="warning" showIcon style={{ marginTop: 12 }} message={t('没有可发送的客户：检查人群、同意记录与频次上限。', 'Nobody to send to: check the segment, consents and caps.')} />}
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
