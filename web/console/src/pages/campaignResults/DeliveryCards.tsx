import { Card, Col, Empty, Progress, Row, Space, Table, Tag, Tooltip, Typography } from 'antd';
import { ArrowRightOutlined, InfoCircleOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import type { Campaign, ChannelTask, Uplift } from '../../api';
import { useName } from '../../i18n';
import { fmtInt, fmtTime } from '../../components/common';
import { sendCounts } from './useCampaignResults';

// Send states in the order a send moves through them, with their colours.
const stages = ['planned', 'sending', 'sent', 'delivered', 'failed'] as const;
const stageColor: Record<string, string> = { planned: '#d9d9d9', sending: '#69b1ff', sent: '#1677ff', delivered: '#52c41a', failed: '#ff4d4f' };
const taskColor: Record<string, string> = { sending: 'processing', created: 'blue', failed: 'error', done: 'success' };

// DeliveryCards follow the sending (planned → sending → sent → delivered
// or failed, with failure reasons) and list the channel tasks.
export default function DeliveryCards({ c, u, tasks, live }: { c: Campaign; u: Uplift; tasks: ChannelTask[] | null; live: boolean }) {
  const { t } = useTranslation();
  const { total } = sendCounts(u);
  return (
    <Row gutter={[16, 16]} style={{ marginTop: 16 }}>
      <Col xs={24} xl={12}>
        <Card bordered={false} title={t('campaignResults.delivery')} data-testid="sends" style={{ height: '100%' }}
          extra={total > 0 && <Typography.Text type="secondary">{t('campaignResults.planned')} <b data-testid="sends-total">{fmtInt(total)}</b> {t('common.people')}</Typography.Text>}>
          {c.channel === 'robot' ? (
            <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('campaignResults.groupRobotsPostPer')} />
          ) : total === 0 ? (
            <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={live
              ? (c.trigger === 'segment_entry' ? t('campaignResults.nobodyYetWaitingPeople')
                : c.trigger === 'replenishment' ? t('campaignResults.nobodyYetWaitingHouseholds')
                : c.trigger === 'demand_surge' ? t('campaignResults.nobodyYetWaitingSurge')
                : c.status === 'scheduled' ? t('campaignResults.waitingStart') : t('campaignResults.writingPlan'))
              : t('campaignResults.nobodyTreatmentSend')} />
          ) : <SendFlow c={c} u={u} live={live} />}
        </Card>
      </Col>
      <Col xs={24} xl={12}>
        <TasksCard c={c} tasks={tasks} />
      </Col>
    </Row>
  );
}

// SendFlow: the count at each stage, a bar and legend of them, the share
// processed and why sends failed.
function SendFlow({ c, u, live }: { c: Campaign; u: Uplift; live: boolean }) {
  const { t } = useTranslation();
  const name = useName();
  const { count, total, processed, reasons, unexplained } = sendCounts(u);
  const stageLabel: Record<string, string> = {
    planned: t('campaignResults.waiting'), sending: t('campaignResults.sending'), sent: c.channel === 'wecom' ? t('campaignResults.sentAwaitingResult') : t('campaignResults.sent'),
    delivered: t('campaignResults.delivered'), failed: t('campaignResults.failed'),
  };
  return (
    <>
      <div className="send-flow" data-testid="send-flow">
        <div className="send-stage"><div className="label">{t('campaignResults.plannedShort')}</div><div className="value">{fmtInt(total)}</div>
          <div className="sub">{t('campaignResults.waitingLower')} {fmtInt(count('planned'))}</div></div>
        <ArrowRightOutlined className="send-arrow" />
        <div className="send-stage"><div className="label">{t('campaignResults.sending')}</div><div className="value" style={{ color: count('sending') ? '#1677ff' : undefined }}>{fmtInt(count('sending'))}</div>
          <div className="sub">{c.channel === 'wecom' ? t('campaignResults.staffTasks') : c.channel === 'webhook' ? t('campaignResults.gatewayBatches') : t('campaignResults.outbox')}</div></div>
        <ArrowRightOutlined className="send-arrow" />
        <div className="send-stage"><div className="label">{t('campaignResults.sent')}</div><div className="value" data-testid="sends-sent">{fmtInt(count('sent') + count('delivered'))}</div>
          <div className="sub">{c.channel === 'wecom' ? t('campaignResults.awaitingResult', { sent: fmtInt(count('sent')) }) : c.channel === 'outbox' ? t('campaignResults.recordedNoReceipts') : t('campaignResults.takenGateway')}</div></div>
        <ArrowRightOutlined className="send-arrow" />
        <div className="send-stage"><div className="label">{t('campaignResults.deliveredFailed')}</div>
          <div className="value"><span style={{ color: '#389e0d' }}>{fmtInt(count('delivered'))}</span> <span className="slash">/</span> <span style={{ color: count('failed') ? '#cf1322' : undefined }} data-testid="sends-failed">{fmtInt(count('failed'))}</span></div>
          <div className="sub">{c.channel === 'wecom' ? t('campaignResults.wecomEveryMin') : '\u00a0'}</div></div>
      </div>
      <Tooltip title={stages.map((s) => `${stageLabel[s]} ${fmtInt(count(s))}`).join(' · ')}>
        <div className="send-bar" data-testid="send-bar">
          {stages.filter((s) => count(s) > 0).map((s) => <div key={s} style={{ flexGrow: count(s), background: stageColor[s] }} />)}
        </div>
      </Tooltip>
      <Space wrap size={[16, 4]} style={{ marginTop: 8 }}>
        {stages.map((s) => <span key={s} className="send-legend"><i style={{ background: stageColor[s] }} />{stageLabel[s]} {fmtInt(count(s))}</span>)}
      </Space>
      <Progress percent={Math.floor((processed / total) * 100)} size="small" style={{ marginTop: 12 }} status={live && processed < total ? 'active' : undefined}
        format={(p) => t('campaignResults.processed', { p })} />
      {count('failed') > 0 && (
        <div style={{ marginTop: 12 }} data-testid="failure-reasons">
          <Typography.Text type="secondary">{t('campaignResults.failedBecause')}</Typography.Text>
          <Space wrap size={[8, 4]}>
            {reasons.map((r) => <Tag key={r.reason} color="red">{name(r.reason)} {fmtInt(r.n)}</Tag>)}
            {unexplained > 0 && <Tag>{t('campaignResults.other')} {fmtInt(unexplained)}</Tag>}
          </Space>
        </div>
      )}
    </>
  );
}

// TasksCard lists the channel tasks: WeCom tasks per staff member, robot
// posts, webhook batches, with their state, reference and detail.
function TasksCard({ c, tasks }: { c: Campaign; tasks: ChannelTask[] | null }) {
  const { t } = useTranslation();
  const taskState: Record<string, string> = {
    sending: t('campaignResults.sending'), created: c.channel === 'wecom' ? t('campaignResults.createdStaffConfirm') : t('campaignResults.taken'),
    failed: t('campaignResults.failed'), done: t('campaignResults.done'),
  };
  return (
    <Card bordered={false} title={t('campaignResults.channelTasks')} style={{ height: '100%' }}
      extra={<Tooltip title={t('campaignResults.everyChannelCallJournalled')}><InfoCircleOutlined /></Tooltip>}>
      <Table size="small" rowKey="id" data-testid="tasks" dataSource={tasks ?? []} loading={!tasks} pagination={{ pageSize: 8, hideOnSinglePage: true, size: 'small' }}
        locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={c.channel === 'outbox'
          ? t('campaignResults.outboxRecordsMessagesDirectly')
          : t('campaignResults.noTasksYet')} /> }}
        columns={[
          { title: c.channel === 'wecom' ? t('campaignResults.staff') : c.channel === 'robot' ? t('campaignResults.robot') : t('campaignResults.target'), dataIndex: 'target', render: (v) => v || '–' },
          { title: t('common.headcount'), dataIndex: 'recipients', align: 'right', render: (v) => (c.channel === 'robot' ? '–' : fmtInt(v)) },
          { title: t('common.state'), dataIndex: 'state', render: (v) => <Tag color={taskColor[v]}>{taskState[v] ?? v}</Tag> },
          { title: c.channel === 'wecom' ? 'msgid' : c.channel === 'webhook' ? 'Idempotency-Key' : t('campaignResults.ref'), dataIndex: 'ref',
            render: (v) => (v ? <Typography.Text code copyable={{ text: v }} style={{ fontSize: 12 }} ellipsis={{ tooltip: v }}>{v}</Typography.Text> : '–'), width: 170 },
          { title: t('campaignResults.detail'), dataIndex: 'detail', render: (v) => (v ? <Typography.Text type="secondary" style={{ fontSize: 12 }}>{v}</Typography.Text> : '–') },
          { title: t('campaignResults.at'), dataIndex: 'attempt_at', render: fmtTime, width: 160 },
        ]} />
    </Card>
  );
}
