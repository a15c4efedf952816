import { useEffect, useState } from 'react';
import { Col, Form, Input, InputNumber, Radio, Row, Select, Tooltip, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { get } from '../../api';
import { groupChannels } from './model';
import type { ChannelSettings, WeComGroup } from '../../api';

// ChannelFields choose how a campaign reaches people: the channel (with
// the robots or webhook it posts to) and the trigger (once, on segment
// entry, as a replenishment reminder with its product and lead time, or on
// a demand surge alert of a product class, optionally in one region).
export default function ChannelFields({ chans }: { chans: ChannelSettings | null }) {
  const { t } = useTranslation();
  const form = Form.useFormInstance();
  const channel: string = Form.useWatch('channel', form) || 'outbox';
  const trigger: string = Form.useWatch('trigger', form) || 'once';
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
    { value: 'wecom_group', label: <>{t('campaignEditor.wecomCustomerGroups')}{dot(chans?.wecom)}</> },
  ];
  const channelHint = {
    outbox: t('campaignEditor.recordsEachRecipientsPersonalised'),
    wecom: chans && !chans.wecom
      ? <Typography.Text type="warning">{t('campaignEditor.wecomCustomerContactNot')}</Typography.Text>
      : t('campaignEditor.createsMassMessageTask'),
    webhook: t('campaignEditor.postsEachRecipientsMessage'),
    robot: t('campaignEditor.postsOneMessageInto'),
    wecom_group: chans && !chans.wecom
      ? <Typography.Text type="warning">{t('campaignEditor.wecomCustomerContactNot')}</Typography.Text>
      : t('campaignEditor.wecomGroupHint'),
  }[channel];
  const triggerHint = {
    once: t('campaignEditor.sendsOnceSegmentsMembers'),
    segment_entry: t('campaignEditor.liveAutomationPeopleSent'),
    replenishment: t('campaignEditor.hourlyHouseholdsPredictedBuy'),
    demand_surge: t('campaignEditor.demandSurgeHint'),
  }[trigger];
  const robot = channel === 'robot';
  const group = groupChannels.includes(channel);
  const groupOnce = group ? t(robot ? 'campaignEditor.robotPostsGroupsOnce' : 'campaignEditor.groupsSendOnce') : undefined;
  return (
    <>
      <Form.Item name="channel" label={t('campaignEditor.channel')} extra={channelHint}>
        <Radio.Group data-testid="channel" optionType="button" buttonStyle="solid" options={channelOptions} />
      </Form.Item>
      {(robot || channel === 'webhook') && <TargetsField robot={robot} names={(robot ? chans?.robots : chans?.webhooks) ?? []} />}
      {channel === 'wecom_group' && <GroupTargetsField />}
      <Form.Item name="trigger" label={t('common.trigger')} extra={triggerHint}>
        <Radio.Group data-testid="trigger">
          <Radio value="once">{t('campaignEditor.sendOnce')}</Radio>
          <Tooltip title={groupOnce}>
            <Radio value="segment_entry" disabled={group || undefined} data-testid="trigger-segment-entry">{t('campaignEditor.segmentEntry')}</Radio>
          </Tooltip>
          <Tooltip title={groupOnce}>
            <Radio value="replenishment" disabled={group || undefined} data-testid="trigger-replenishment">{t('campaignEditor.replenishmentReminder')}</Radio>
          </Tooltip>
          <Tooltip title={groupOnce}>
            <Radio value="demand_surge" disabled={group || undefined} data-testid="trigger-demand-surge">{t('campaignEditor.demandSurge')}</Radio>
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
      {trigger === 'demand_surge' && <SurgeFields />}
    </>
  );
}

// SurgeFields choose a demand-surge campaign's alerts: the product class,
// and optionally the province and city.
function SurgeFields() {
  const { t } = useTranslation();
  return (
    <Row gutter={16}>
      <Col span={8}>
        <Form.Item name={['surge', 'class']} label={t('campaignEditor.surgeClass')} rules={[{ required: true, whitespace: true, message: t('campaignEditor.surgeClassRequired') }]}>
          <Input maxLength={64} placeholder="高油酸花生油" data-testid="surge-class" />
        </Form.Item>
      </Col>
      <Col span={8}>
        <Form.Item name={['surge', 'province']} label={t('campaignEditor.surgeProvince')}>
          <Input maxLength={64} placeholder={t('campaignEditor.surgeAnyRegion')} data-testid="surge-province" />
        </Form.Item>
      </Col>
      <Col span={8}>
        <Form.Item name={['surge', 'city']} label={t('campaignEditor.surgeCity')}>
          <Input maxLength={64} placeholder={t('campaignEditor.surgeAnyRegion')} data-testid="surge-city" />
        </Form.Item>
      </Col>
    </Row>
  );
}

// GroupTargetsField names the WeCom customer groups a customer-group
// campaign sends into: every live group, or those chosen from the groups
// the platform imported (GET /wecom/groups).
function GroupTargetsField() {
  const { t } = useTranslation();
  const [groups, setGroups] = useState<WeComGroup[] | null>(null);
  useEffect(() => {
    get<{ items: WeComGroup[] }>('/wecom/groups').then((r) => setGroups(r.items)).catch(() => setGroups([]));
  }, []);
  const options = [
    { value: 'all', label: t('campaignEditor.allCustomerGroups') },
    ...(groups ?? []).map((g) => ({ value: g.chat_id, label: `${g.name || g.chat_id} · ${g.owner}` })),
  ];
  return (
    <Form.Item name="targets" label={t('campaignEditor.customerGroups')}
      rules={[{ required: true, type: 'array', min: 1, message: t('campaignEditor.chooseCustomerGroups') }]}
      extra={t('campaignEditor.customerGroupsExtra')}>
      <Select mode="multiple" allowClear showSearch optionFilterProp="label" loading={groups === null} data-testid="group-targets"
        placeholder={t('campaignEditor.chooseCustomerGroups')} options={options} />
    </Form.Item>
  );
}

// TargetsField names where a robot or webhook campaign posts: the group
// robots (several) or the one webhook configured on the server.
function TargetsField({ robot, names }: { robot: boolean; names: string[] }) {
  const { t } = useTranslation();
  return (
    <Form.Item name="targets" label={robot ? t('campaignEditor.groupChatsRobots') : t('campaignEditor.smsGatewayWebhook')}
      rules={[{ required: true, type: 'array', min: 1, message: robot ? t('campaignEditor.chooseLeastOneRobot') : t('campaignEditor.chooseWebhookRequired') }]}
      getValueProps={(v) => ({ value: robot ? v : v?.[0] })}
      normalize={(v) => (v == null ? [] : Array.isArray(v) ? v : [v])}
      extra={names.length === 0
        ? <Typography.Text type="warning">{robot ? t('campaignEditor.noRobotsConfiguredSet') : t('campaignEditor.noWebhooksConfiguredSet')}</Typography.Text>
        : robot ? t('campaignEditor.oneMarkdownPostPer') : t('campaignEditor.signedPostsRecipientsEach')}>
      <Select mode={robot ? 'multiple' : undefined} allowClear data-testid="targets"
        placeholder={robot ? t('campaignEditor.chooseRobots') : t('campaignEditor.chooseWebhookPlaceholder')}
        options={names.map((n) => ({ value: n, label: n }))} notFoundContent={t('campaignEditor.noneConfigured')} />
    </Form.Item>
  );
}
