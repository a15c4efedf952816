import { useEffect, useMemo, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { Alert, Card, Col, Descriptions, Empty, Progress, Row, Skeleton, Space, Statistic, Table, Tag, Tooltip, Typography } from 'antd';
import { ArrowRightOutlined, InfoCircleOutlined, LoadingOutlined, SyncOutlined } from '@ant-design/icons';
import { Campaign, ChannelTask, get, Offer, ResultsOverTime, Segment, Uplift } from '../api';
import { useTranslation } from 'react-i18next';
import { useName } from '../i18n';
import Chart from '../components/Chart';
import { ErrorAlert, fmtInt, fmtPct, fmtTime, fmtYuan, PageTitle } from '../components/common';
import { statusColor } from './Campaigns';

type Daily = ResultsOverTime;

const pp = (x: number) => (x >= 0 ? '+' : '') + (x * 100).toFixed(2) + ' pp';

// While a campaign is scheduled or running the page asks again this often:
// a launch answers once the plan is written and the campaign loop sends
// right after, so the first answer may still show nobody sent.
const refreshMs = 3000;
const isLive = (c: Campaign | null) => !!c && (c.status === 'running' || c.status === 'scheduled');

// Send states in the order a send moves through them, with their colours.
const stages = ['planned', 'sending', 'sent', 'delivered', 'failed'] as const;
const stageColor: Record<string, string> = { planned: '#d9d9d9', sending: '#69b1ff', sent: '#1677ff', delivered: '#52c41a', failed: '#ff4d4f' };
const taskColor: Record<string, string> = { sending: 'processing', created: 'blue', failed: 'error', done: 'success' };

export default function CampaignResults() {
  const { t } = useTranslation();
  const name = useName();
  const { id } = useParams();
  const [c, setC] = useState<Campaign | null>(null);
  const [u, setU] = useState<Uplift | null>(null);
  const [d, setD] = useState<Daily | null>(null);
  const [tasks, setTasks] = useState<ChannelTask[] | null>(null);
  const [offer, setOffer] = useState<Offer | null>(null);
  const [seg, setSeg] = useState<Segment | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [refreshError, setRefreshError] = useState<unknown>(null);
  const [refreshedAt, setRefreshedAt] = useState<Date | null>(null);

  // Load everything, then again every refreshMs while the campaign is
  // scheduled or running; stop once it finished (or the page is left).
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let first = true;
    const load = async () => {
      try {
        const [cc, uu, dd, tt] = await Promise.all([
          get<Campaign>('/campaigns/' + id),
          get<Uplift>(`/campaigns/${id}/results`),
          get<Daily>(`/campaigns/${id}/results/daily`),
          get<{ items: ChannelTask[] }>(`/campaigns/${id}/tasks`),
        ]);
        if (stopped) return;
        setC(cc);
        setU(uu);
        setD(dd);
        setTasks(tt.items);
        setRefreshError(null);
        setRefreshedAt(new Date());
        if (first) {
          first = false;
          get<{ items: Offer[] }>('/offers').then((r) => !stopped && setOffer(r.items.find((o) => o.id === cc.offer_id) ?? null)).catch(() => {});
          if (cc.segment_id) get<Segment>('/segments/' + cc.segment_id).then((s) => !stopped && setSeg(s)).catch(() => {});
        }
        if (isLive(cc)) timer = setTimeout(load, refreshMs);
      } catch (e) {
        if (stopped) return;
        if (first) {
          setError(e);
          return;
        }
        // A refresh failed: keep what is shown, say so, try again.
        setRefreshError(e);
        timer = setTimeout(load, refreshMs);
      }
    };
    load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [id]);

  const over = useMemo(() => ({
    tooltip: { trigger: 'axis', valueFormatter: (v: number) => (v * 100).toFixed(2) + '%' },
    legend: { top: 0 },
    grid: { left: 56, right: 20, top: 36, bottom: 28 },
    xAxis: { type: 'category', data: (d?.days ?? []).map((x) => x.day.slice(5)) },
    yAxis: { type: 'value', axisLabel: { formatter: (v: number) => (v * 100).toFixed(1) + '%' } },
    series: [
      { name: t('campaignResults.treatmentCumulative'), type: 'line', smooth: true, symbolSize: 5, data: (d?.days ?? []).map((x) => x.treatment_rate), areaStyle: { opacity: 0.08 } },
      { name: t('campaignResults.holdoutCumulative'), type: 'line', smooth: true, symbolSize: 5, data: (d?.days ?? []).map((x) => x.holdout_rate), lineStyle: { type: 'dashed' }, color: '#8c8c8c' },
    ],
  }), [d, t]);
  const compare = useMemo(() => {
    if (!u) return {};
    return {
      tooltip: { trigger: 'axis', valueFormatter: (v: number) => (v * 100).toFixed(2) + '%' },
      grid: { left: 56, right: 20, top: 20, bottom: 28 },
      xAxis: { type: 'category', data: [t('campaignResults.treatment'), t('common.holdout')] },
      yAxis: { type: 'value', axisLabel: { formatter: (v: number) => (v * 100).toFixed(1) + '%' } },
      series: [{ type: 'bar', barWidth: 56, data: [{ value: u.treatment.rate, itemStyle: { color: '#1677ff' } }, { value: u.holdout.rate, itemStyle: { color: '#bfbfbf' } }],
        label: { show: true, position: 'top', formatter: (p: any) => (p.value * 100).toFixed(2) + '%' } }],
    };
  }, [u, t]);

  if (error) return <ErrorAlert error={error} />;
  if (!c || !u) return <Skeleton active paragraph={{ rows: 12 }} />;
  const live = isLive(c);
  const triggered = c.trigger === 'segment_entry' || c.trigger === 'replenishment';
  const empty = u.treatment.persons === 0 || u.holdout.persons === 0;
  // The badge reads the anytime-valid confidence sequence: this page
  // refreshes every few seconds, and a fixed interval read again and again
  // claims an effect far more often than 5% of the time.
  const conv = u.conversion;
  const significant = !empty && !!conv?.significant;
  const headline = conv?.cuped ?? conv;
  const rev = u.revenue_per_person;
  const ppRange = (r: [number, number]) => `[${pp(r[0])}, ${pp(r[1])}]`;
  const yuanRange = (r: [number, number]) => `[${fmtYuan(r[0])}, ${fmtYuan(r[1])}]`;
  const holdoutExcluded = Object.entries(u.holdout_excluded ?? {}).filter(([, n]) => n > 0);

  const sends = u.sends ?? {};
  const count = (k: string) => sends[k] ?? 0;
  const total = Object.entries(sends).filter(([k]) => !k.includes(':')).reduce((a, [, n]) => a + n, 0);
  const processed = count('sent') + count('delivered') + count('failed');
  const reasons = Object.entries(sends).filter(([k]) => k.startsWith('failed:')).map(([k, n]) => ({ reason: k.slice(7), n })).sort((a, b) => b.n - a.n);
  const unexplained = count('failed') - reasons.reduce((a, r) => a + r.n, 0);
  const stageLabel: Record<string, string> = {
    planned: t('campaignResults.waiting'), sending: t('campaignResults.sending'), sent: c.channel === 'wecom' ? t('campaignResults.sentAwaitingResult') : t('campaignResults.sent'),
    delivered: t('campaignResults.delivered'), failed: t('campaignResults.failed'),
  };
  const taskState: Record<string, string> = {
    sending: t('campaignResults.sending'), created: c.channel === 'wecom' ? t('campaignResults.createdStaffConfirm') : t('campaignResults.taken'),
    failed: t('campaignResults.failed'), done: t('campaignResults.done'),
  };

  let banner: React.ReactNode = null;
  if (c.status === 'scheduled') {
    banner = <Alert type="warning" showIcon icon={<SyncOutlined spin />} style={{ marginBottom: 16 }} data-testid="live-banner"
      message={t('campaignResults.scheduledSendingStarts', { start_at: fmtTime(c.start_at) })}
      description={t('campaignResults.pageRefreshesEveryS', { seconds: refreshMs / 1000 })} />;
  } else if (c.status === 'running' && !triggered) {
    banner = <Alert type="info" showIcon icon={<LoadingOutlined />} style={{ marginBottom: 16 }} data-testid="live-banner"
      message={total > 0
        ? t('campaignResults.sendingProcessed', { processed: fmtInt(processed), total: fmtInt(total), percent: fmtPct(processed / total, 0) })
        : t('campaignResults.sendingNow')}
      description={t('campaignResults.planWrittenPlatformSending', { seconds: refreshMs / 1000 })} />;
  } else if (c.status === 'running') {
    banner = <Alert type="info" showIcon icon={<SyncOutlined spin />} style={{ marginBottom: 16 }} data-testid="live-banner"
      message={c.trigger === 'segment_entry'
        ? t('campaignResults.automationRunningPeopleSent')
        : t('campaignResults.replenishmentRunningEveryHour', { days: c.lead_days || 3, kind: name(c.replenish_kind || ''), kindLower: name(c.replenish_kind || '').toLowerCase() })}
      description={<>{c.end_at ? t('campaignResults.ends', { end_at: fmtTime(c.end_at) }) : t('campaignResults.noEndSet')}{t('campaignResults.pageRefreshesEveryS', { seconds: refreshMs / 1000 })}</>} />;
  }

  return (
    <>
      <PageTitle title={<Space>{c.name}<Tag color={statusColor[c.status]} data-testid="campaign-status" data-status={c.status}>{name(c.status)}</Tag></Space>}
        sub={t('campaignResults.resultsTreatmentVsHoldout')}
        extra={<Space size="large">
          {live && refreshedAt && <Typography.Text type="secondary" data-testid="refreshed-at"><SyncOutlined spin /> {t('campaignResults.refreshingUpdated')} {refreshedAt.toLocaleTimeString('zh-CN', { hour12: false })}</Typography.Text>}
          <Link to="/campaigns">{t('common.backCampaigns')}</Link>
        </Space>} />
      {c.status === 'draft' && <Alert type="info" showIcon style={{ marginBottom: 16 }} message={t('campaignResults.notLaunchedYetNo')} action={<Link to={`/campaigns/${c.id}`}>{t('campaignResults.edit')}</Link>} />}
      {banner}
      {refreshError ? <ErrorAlert error={refreshError} style={{ marginBottom: 16 }} /> : null}
      <Row gutter={[16, 16]} data-testid="results" data-status={c.status}>
        <Col xs={24} sm={12} xl={6}><Card bordered={false}><Statistic title={t('campaignResults.treatmentConversion')} value={fmtPct(u.treatment.rate, 2)} valueStyle={{ color: '#1677ff' }} />
          <Typography.Text type="secondary">{fmtInt(u.treatment.converted)} / {fmtInt(u.treatment.persons)} {t('common.people')}</Typography.Text></Card></Col>
        <Col xs={24} sm={12} xl={6}><Card bordered={false}><Statistic title={t('campaignResults.holdoutConversion')} value={fmtPct(u.holdout.rate, 2)} />
          <Typography.Text type="secondary">{fmtInt(u.holdout.converted)} / {fmtInt(u.holdout.persons)} {t('common.people')}</Typography.Text></Card></Col>
        <Col xs={24} sm={12} xl={6}><Card bordered={false}>
          <Statistic title={<Space>{t('campaignResults.upliftAbsolute')}<Tooltip title={t('campaignResults.differenceConversionRatesTreatment')}><InfoCircleOutlined /></Tooltip></Space>}
            value={pp(u.absolute)} valueStyle={{ color: u.absolute >= 0 ? '#389e0d' : '#cf1322' }} formatter={(v) => <span data-testid="uplift">{v}</span>} />
          {empty || !conv ? <Typography.Text type="secondary">{t('campaignResults.tooFewPeopleInterval')}</Typography.Text> : <>
            <Typography.Text type="secondary" style={{ display: 'block' }} data-testid="uplift-cs" data-lo={conv.cs95[0]} data-hi={conv.cs95[1]}>{t('campaignResults.anytimeValidSequence')} {ppRange(conv.cs95)}</Typography.Text>
            <Typography.Text type="secondary" style={{ display: 'block' }} data-testid="uplift-ci" data-lo={conv.ci95[0]} data-hi={conv.ci95[1]}>{t('campaignResults.fixedHorizonCi')} {ppRange(conv.ci95)}</Typography.Text>
          </>}
        </Card></Col>
        <Col xs={24} sm={12} xl={6}><Card bordered={false}>
          <Statistic title={t('campaignResults.relativeUplift')} value={u.relative !== undefined ? fmtPct(u.relative, 1) : '–'} valueStyle={{ color: (u.relative ?? 0) >= 0 ? '#389e0d' : '#cf1322' }} />
          <Typography.Text type="secondary">{u.relative_ci95 ? `${t('campaignResults.ci')} [${fmtPct(u.relative_ci95[0], 1)}, ${fmtPct(u.relative_ci95[1], 1)}]` : t('campaignResults.holdoutConvertedNobody')}</Typography.Text>
        </Card></Col>
      </Row>
      {c.status !== 'draft' && !live && empty && (
        <Alert style={{ marginTop: 16 }} showIcon type="warning" message={t('campaignResults.treatmentHoldoutEmptySo')} />
      )}
      {c.status !== 'draft' && !empty && (
        <Alert style={{ marginTop: 16 }} showIcon type={significant ? (u.absolute > 0 ? 'success' : 'error') : 'info'}
          message={significant
            ? ((headline?.estimate ?? u.absolute) > 0 ? t('campaignResults.significantAnytimeValidSequence') : t('campaignResults.significantlyNegativeCampaignLowered'))
            : t('campaignResults.notSignificantYetAnytime')}
          data-testid="significance" data-significant={significant ? 'yes' : 'no'} />
      )}
      {c.status !== 'draft' && !empty && conv && (
        <Row gutter={[16, 16]} style={{ marginTop: 16 }} data-testid="effects">
          <Col xs={24} md={8}><Card bordered={false} style={{ height: '100%' }}>
            <Statistic title={<Space>{t('campaignResults.effectThoseReached')}<Tooltip title={t('campaignResults.intentionTreatEffectDelivery')}><InfoCircleOutlined /></Tooltip></Space>}
              value={conv.complier ? pp(conv.complier.estimate) : '–'} formatter={(v) => <span data-testid="complier">{v}</span>} />
            {conv.complier && <Typography.Text type="secondary">{t('campaignResults.deliveryRateCi', { delivery_rate: fmtPct(conv.complier.delivery_rate, 1) })} {ppRange(conv.complier.ci95)}</Typography.Text>}
          </Card></Col>
          <Col xs={24} md={8}><Card bordered={false} style={{ height: '100%' }}>
            <Statistic title={<Space>{t('campaignResults.cupedAdjustedUplift')}<Tooltip title={t('campaignResults.adjustedEachPersonsOrders')}><InfoCircleOutlined /></Tooltip></Space>}
              value={conv.cuped ? pp(conv.cuped.estimate) : '–'} formatter={(v) => <span data-testid="cuped">{v}</span>} />
            {conv.cuped ? <>
              <Typography.Text type="secondary" style={{ display: 'block' }}>{t('campaignResults.anytimeValidSequence')} {ppRange(conv.cuped.cs95)}</Typography.Text>
              <Typography.Text type="secondary" style={{ display: 'block' }}>{t('campaignResults.fixedHorizonCi')} {ppRange(conv.cuped.ci95)}</Typography.Text>
              <Typography.Text type="secondary" style={{ display: 'block' }} data-testid="cuped-narrowing">{t('campaignResults.intervalsNarrowerVarianceLower', { narrowing: fmtPct(conv.cuped.narrowing, 1), variance_reduction: fmtPct(conv.cuped.variance_reduction, 1) })}</Typography.Text>
            </> : <Typography.Text type="secondary">{t('campaignResults.nobodyBoughtOffersItems')}</Typography.Text>}
          </Card></Col>
          <Col xs={24} md={8}><Card bordered={false} style={{ height: '100%' }}>
            <Statistic title={t('campaignResults.revenuePerPersonUplift')} value={rev ? fmtYuan(rev.estimate) : '–'} formatter={(v) => <span data-testid="revenue-uplift">{v}</span>} />
            {rev && <>
              <Typography.Text type="secondary" style={{ display: 'block' }}>{t('campaignResults.anytimeValidSequence')} {yuanRange(rev.cs95)}</Typography.Text>
              <Typography.Text type="secondary" style={{ display: 'block' }}>{t('campaignResults.fixedHorizonCi')} {yuanRange(rev.ci95)}</Typography.Text>
            </>}
          </Card></Col>
        </Row>
      )}
      {c.status !== 'draft' && (
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
                    : c.status === 'scheduled' ? t('campaignResults.waitingStart') : t('campaignResults.writingPlan'))
                  : t('campaignResults.nobodyTreatmentSend')} />
              ) : (
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
              )}
            </Card>
          </Col>
          <Col xs={24} xl={12}>
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
          </Col>
        </Row>
      )}
      <Row gutter={[16, 16]} style={{ marginTop: 16 }}>
        <Col xs={24} xl={16}>
          <Card bordered={false} title={t('campaignResults.conversionOverTimeDay', { attribution_days: c.attribution_days })}>
            {d && d.days.length ? <Chart option={over} height={320} testId="chart-over-time" /> : <Empty description={c.status === 'draft' ? t('campaignResults.dailyConversionAppearsAfter') : live ? t('campaignResults.dailyConversionAppearsOnce') : t('campaignResults.nobodyWasSentHeld')} />}
          </Card>
        </Col>
        <Col xs={24} xl={8}>
          <Card bordered={false} title={t('campaignResults.conversionRates')}>
            <Chart option={compare} height={320} testId="chart-compare" />
          </Card>
        </Col>
      </Row>
      <Row gutter={[16, 16]} style={{ marginTop: 16 }}>
        <Col xs={24} xl={14}>
          <Card bordered={false} title={t('campaignResults.group')}>
            <Table size="small" pagination={false} rowKey="g" dataSource={[{ g: 'treatment', ...u.treatment }, { g: 'holdout', ...u.holdout }]}
              columns={[
                { title: t('common.group'), dataIndex: 'g', render: (v) => name(v) },
                { title: t('common.headcount'), dataIndex: 'persons', align: 'right', render: fmtInt },
                { title: t('campaignResults.converted'), dataIndex: 'converted', align: 'right', render: fmtInt },
                { title: t('campaignResults.rate'), dataIndex: 'rate', align: 'right', render: (v) => fmtPct(v, 2) },
                { title: t('campaignResults.revenue'), dataIndex: 'revenue', align: 'right', render: fmtYuan },
                { title: t('campaignResults.revenuePerson'), dataIndex: 'revenue_per_person', align: 'right', render: fmtYuan },
              ]} />
            <Typography.Text type="secondary" style={{ display: 'block', marginTop: 8, fontSize: 12 }}>
              {t('campaignResults.intentionTreatTreatmentCounts')}
            </Typography.Text>
            {holdoutExcluded.length > 0 && (
              <div style={{ marginTop: 8 }} data-testid="holdout-excluded">
                <Typography.Text type="secondary" style={{ fontSize: 12 }}>{t('campaignResults.alsoLeftOutHoldout')}</Typography.Text>
                <Space wrap size={[8, 4]}>{holdoutExcluded.map(([k, n]) => <Tag key={k}>{name(k)} {fmtInt(n)}</Tag>)}</Space>
              </div>
            )}
          </Card>
        </Col>
        <Col xs={24} xl={10}>
          <Card bordered={false} title={t('campaignResults.settings')}>
            <Descriptions size="small" column={1} data-testid="campaign-settings">
              <Descriptions.Item label={t('common.offer')}>{offer?.name ?? c.offer_id}</Descriptions.Item>
              <Descriptions.Item label={t('common.segment')}>{c.segment_id ? <Link to={`/segments/${c.segment_id}`}>{seg?.name ?? c.segment_id}</Link> : <Typography.Text type="secondary">{c.trigger === 'replenishment' ? t('campaignResults.anyReplenishmentPrediction') : t('common.any')}</Typography.Text>}</Descriptions.Item>
              <Descriptions.Item label={t('common.channel')}>{name(c.channel)}{(c.targets ?? []).length > 0 && <> · {(c.targets ?? []).map((x) => <Tag key={x} style={{ marginLeft: 4 }}>{x}</Tag>)}</>}</Descriptions.Item>
              <Descriptions.Item label={t('common.trigger')}><span data-testid="campaign-trigger">{name(c.trigger || 'once')}</span>
                {c.trigger === 'replenishment' && <Typography.Text type="secondary">{t('campaignResults.daysAhead', { kind: name(c.replenish_kind || ''), days: c.lead_days || 3 })}</Typography.Text>}</Descriptions.Item>
              {(c.start_at || c.end_at) && <Descriptions.Item label={t('campaignResults.schedule')}>{c.start_at ? fmtTime(c.start_at) : t('campaignResults.launch')} → {c.end_at ? fmtTime(c.end_at) : t('campaignResults.noEnd')}</Descriptions.Item>}
              <Descriptions.Item label={t('campaignResults.holdoutGlobalControl')}>{c.holdout_percent}% / {c.global_control_percent}%</Descriptions.Item>
              <Descriptions.Item label={t('campaignResults.caps')}>{[
                c.cap_per_day ? t('campaignResults.day', { cap_per_day: c.cap_per_day }) : null,
                t('campaignResults.week', { cap_per_week: c.cap_per_week }),
                c.cap_per_month ? t('campaignResults.month', { cap_per_month: c.cap_per_month }) : null,
              ].filter(Boolean).join(t('campaignResults.comma'))}{t('campaignResults.perPersonAcrossCampaigns')}</Descriptions.Item>
              <Descriptions.Item label={t('campaignResults.quietHours')}>{c.quiet_start === c.quiet_end ? t('campaignResults.none') : `${c.quiet_start}:00 – ${c.quiet_end}:00`}</Descriptions.Item>
              <Descriptions.Item label={t('common.launched')}>{fmtTime(c.launched_at)}</Descriptions.Item>
              <Descriptions.Item label={t('campaignResults.template')}><Typography.Text style={{ whiteSpace: 'pre-wrap' }}>{c.template}</Typography.Text></Descriptions.Item>
            </Descriptions>
          </Card>
        </Col>
      </Row>
    </>
  );
}
