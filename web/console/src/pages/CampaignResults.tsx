import { useEffect, useMemo, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { Alert, Card, Col, Descriptions, Empty, Progress, Row, Skeleton, Space, Statistic, Table, Tag, Tooltip, Typography } from 'antd';
import { ArrowRightOutlined, InfoCircleOutlined, LoadingOutlined, SyncOutlined } from '@ant-design/icons';
import { Campaign, ChannelTask, get, Offer, ResultsOverTime, Segment, Uplift } from '../api';
import { useName, useT } from '../i18n';
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
  const t = useT();
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
      { name: t('实验组累计转化率', 'Treatment (cumulative)'), type: 'line', smooth: true, symbolSize: 5, data: (d?.days ?? []).map((x) => x.treatment_rate), areaStyle: { opacity: 0.08 } },
      { name: t('对照组累计转化率', 'Holdout (cumulative)'), type: 'line', smooth: true, symbolSize: 5, data: (d?.days ?? []).map((x) => x.holdout_rate), lineStyle: { type: 'dashed' }, color: '#8c8c8c' },
    ],
  }), [d, t]);
  const compare = useMemo(() => {
    if (!u) return {};
    return {
      tooltip: { trigger: 'axis', valueFormatter: (v: number) => (v * 100).toFixed(2) + '%' },
      grid: { left: 56, right: 20, top: 20, bottom: 28 },
      xAxis: { type: 'category', data: [t('实验组', 'Treatment'), t('对照组', 'Holdout')] },
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
    planned: t('待发送', 'Waiting'), sending: t('发送中', 'Sending'), sent: c.channel === 'wecom' ? t('已发送（待回执）', 'Sent (awaiting result)') : t('已发送', 'Sent'),
    delivered: t('已送达', 'Delivered'), failed: t('失败', 'Failed'),
  };
  const taskState: Record<string, string> = {
    sending: t('发送中', 'Sending'), created: c.channel === 'wecom' ? t('已创建，待员工确认发送', 'Created; staff to confirm') : t('已接收', 'Taken'),
    failed: t('失败', 'Failed'), done: t('已完成', 'Done'),
  };

  let banner: React.ReactNode = null;
  if (c.status === 'scheduled') {
    banner = <Alert type="warning" showIcon icon={<SyncOutlined spin />} style={{ marginBottom: 16 }} data-testid="live-banner"
      message={t(`已排期：将于 ${fmtTime(c.start_at)} 开始发送`, `Scheduled: sending starts at ${fmtTime(c.start_at)}`)}
      description={t(`本页每 ${refreshMs / 1000} 秒自动刷新。`, `This page refreshes every ${refreshMs / 1000} s.`)} />;
  } else if (c.status === 'running' && !triggered) {
    banner = <Alert type="info" showIcon icon={<LoadingOutlined />} style={{ marginBottom: 16 }} data-testid="live-banner"
      message={total > 0
        ? t(`正在发送：已处理 ${fmtInt(processed)} / ${fmtInt(total)} 人（${fmtPct(processed / total, 0)}）`, `Sending: ${fmtInt(processed)} of ${fmtInt(total)} processed (${fmtPct(processed / total, 0)})`)
        : t('正在发送…', 'Sending…')}
      description={t(`发送计划已写入，平台正在逐批发送；下方数字每 ${refreshMs / 1000} 秒自动刷新，发送完成后转化结果才完整。`,
        `The plan is written and the platform is sending it batch by batch; the figures below refresh every ${refreshMs / 1000} s and are complete once sending has finished.`)} />;
  } else if (c.status === 'running') {
    banner = <Alert type="info" showIcon icon={<SyncOutlined spin />} style={{ marginBottom: 16 }} data-testid="live-banner"
      message={c.trigger === 'segment_entry'
        ? t('自动化运行中：客户进入人群后数秒内自动触达，每人只触达一次', 'Automation running: people are sent to within seconds of entering the segment, once each')
        : t(`补货提醒运行中：每小时找出预计 ${c.lead_days || 3} 天内该补${name(c.replenish_kind || '')}的家庭并发送`, `Replenishment running: every hour, households due to buy ${name(c.replenish_kind || '').toLowerCase()} within ${c.lead_days || 3} days are sent to`)}
      description={<>{c.end_at ? t(`截止 ${fmtTime(c.end_at)}。`, `Ends ${fmtTime(c.end_at)}. `) : t('未设结束时间。', 'No end set. ')}{t(`本页每 ${refreshMs / 1000} 秒自动刷新。`, `This page refreshes every ${refreshMs / 1000} s.`)}</>} />;
  }

  return (
    <>
      <PageTitle title={<Space>{c.name}<Tag color={statusColor[c.status]} data-testid="campaign-status" data-status={c.status}>{name(c.status)}</Tag></Space>}
        sub={t('活动效果：实验组与对照组转化对比（95% 置信区间）', 'Results: treatment vs holdout conversion (95% confidence interval)')}
        extra={<Space size="large">
          {live && refreshedAt && <Typography.Text type="secondary" data-testid="refreshed-at"><SyncOutlined spin /> {t('自动刷新中 · 更新于', 'Refreshing · updated')} {refreshedAt.toLocaleTimeString('zh-CN', { hour12: false })}</Typography.Text>}
          <Link to="/campaigns">{t('返回活动列表', 'Back to campaigns')}</Link>
        </Space>} />
      {c.status === 'draft' && <Alert type="info" showIcon style={{ marginBottom: 16 }} message={t('活动尚未启动，暂无效果数据。', 'Not launched yet: no results.')} action={<Link to={`/campaigns/${c.id}`}>{t('去编辑', 'Edit')}</Link>} />}
      {banner}
      {refreshError ? <ErrorAlert error={refreshError} style={{ marginBottom: 16 }} /> : null}
      <Row gutter={[16, 16]} data-testid="results" data-status={c.status}>
        <Col xs={24} sm={12} xl={6}><Card bordered={false}><Statistic title={t('实验组转化率', 'Treatment conversion')} value={fmtPct(u.treatment.rate, 2)} valueStyle={{ color: '#1677ff' }} />
          <Typography.Text type="secondary">{fmtInt(u.treatment.converted)} / {fmtInt(u.treatment.persons)} {t('人', 'people')}</Typography.Text></Card></Col>
        <Col xs={24} sm={12} xl={6}><Card bordered={false}><Statistic title={t('对照组转化率', 'Holdout conversion')} value={fmtPct(u.holdout.rate, 2)} />
          <Typography.Text type="secondary">{fmtInt(u.holdout.converted)} / {fmtInt(u.holdout.persons)} {t('人', 'people')}</Typography.Text></Card></Col>
        <Col xs={24} sm={12} xl={6}><Card bordered={false}>
          <Statistic title={<Space>{t('转化率提升（绝对）', 'Uplift (absolute)')}<Tooltip title={t('实验组（所有分入者，无论是否送达）与对照组转化率之差。随时可看的置信序列在每次刷新时都有效，“显著”以它为准；固定时点区间只在归因窗口结束时读一次才有效。',
            'Difference of conversion rates, treatment (everyone assigned, delivered or not) minus holdout. The anytime-valid sequence holds at every refresh and decides “significant”; the fixed-horizon interval is valid only when read once, at the end of the attribution window.')}><InfoCircleOutlined /></Tooltip></Space>}
            value={pp(u.absolute)} valueStyle={{ color: u.absolute >= 0 ? '#389e0d' : '#cf1322' }} formatter={(v) => <span data-testid="uplift">{v}</span>} />
          {empty || !conv ? <Typography.Text type="secondary">{t('样本不足，无法计算置信区间', 'Too few people for an interval')}</Typography.Text> : <>
            <Typography.Text type="secondary" style={{ display: 'block' }} data-testid="uplift-cs" data-lo={conv.cs95[0]} data-hi={conv.cs95[1]}>{t('随时可看 95% 置信序列', 'Anytime-valid 95% sequence')} {ppRange(conv.cs95)}</Typography.Text>
            <Typography.Text type="secondary" style={{ display: 'block' }} data-testid="uplift-ci" data-lo={conv.ci95[0]} data-hi={conv.ci95[1]}>{t('固定时点 95% 置信区间', 'Fixed-horizon 95% CI')} {ppRange(conv.ci95)}</Typography.Text>
          </>}
        </Card></Col>
        <Col xs={24} sm={12} xl={6}><Card bordered={false}>
          <Statistic title={t('相对提升', 'Relative uplift')} value={u.relative !== undefined ? fmtPct(u.relative, 1) : '–'} valueStyle={{ color: (u.relative ?? 0) >= 0 ? '#389e0d' : '#cf1322' }} />
          <Typography.Text type="secondary">{u.relative_ci95 ? `${t('95% 置信区间', '95% CI')} [${fmtPct(u.relative_ci95[0], 1)}, ${fmtPct(u.relative_ci95[1], 1)}]` : t('对照组无转化，无法计算', 'holdout converted nobody')}</Typography.Text>
        </Card></Col>
      </Row>
      {c.status !== 'draft' && !live && empty && (
        <Alert style={{ marginTop: 16 }} showIcon type="warning" message={t('实验组或对照组没有人：无法衡量提升。常见原因：人群含敏感标签但客户未单独同意、对照组比例为 0，或全部被免打扰/频次上限排除。',
          'The treatment or the holdout is empty, so no uplift can be measured. Common causes: a sensitive segment without separate consents, a 0% holdout, or everyone excluded by quiet hours or caps.')} />
      )}
      {c.status !== 'draft' && !empty && (
        <Alert style={{ marginTop: 16 }} showIcon type={significant ? (u.absolute > 0 ? 'success' : 'error') : 'info'}
          message={significant
            ? ((headline?.estimate ?? u.absolute) > 0 ? t('提升显著：随时可看的置信序列不含 0，活动带来了真实的增量转化。', 'Significant: the anytime-valid sequence excludes 0; the campaign caused extra conversions.') : t('显著为负：活动降低了转化。', 'Significantly negative: the campaign lowered conversion.'))
            : t('尚不显著：随时可看的置信序列包含 0，差异可能来自随机波动；可扩大人群或等待更多订单。', 'Not significant yet: the anytime-valid sequence includes 0; widen the audience or wait for more orders.')}
          data-testid="significance" data-significant={significant ? 'yes' : 'no'} />
      )}
      {c.status !== 'draft' && !empty && conv && (
        <Row gutter={[16, 16]} style={{ marginTop: 16 }} data-testid="effects">
          <Col xs={24} md={8}><Card bordered={false} style={{ height: '100%' }}>
            <Statistic title={<Space>{t('对已触达者的效果', 'Effect on those reached')}<Tooltip title={t('意向处理效果 ÷ 送达率（依从者平均因果效应）：只有消息真正送达的客户的转化率提升。', 'Intention-to-treat effect ÷ delivery rate (complier average causal effect): the uplift for people the message actually reached.')}><InfoCircleOutlined /></Tooltip></Space>}
              value={conv.complier ? pp(conv.complier.estimate) : '–'} formatter={(v) => <span data-testid="complier">{v}</span>} />
            {conv.complier && <Typography.Text type="secondary">{t(`送达率 ${fmtPct(conv.complier.delivery_rate, 1)} · 95% 置信区间`, `Delivery rate ${fmtPct(conv.complier.delivery_rate, 1)} · 95% CI`)} {ppRange(conv.complier.ci95)}</Typography.Text>}
          </Card></Col>
          <Col xs={24} md={8}><Card bordered={false} style={{ height: '100%' }}>
            <Statistic title={<Space>{t('CUPED 调整后提升', 'CUPED-adjusted uplift')}<Tooltip title={t('用每位客户活动前 90 天内该优惠品类的订单数和消费额校正，区间更窄。', 'Adjusted with each person\'s orders and spend in the offer\'s items over the 90 days before: narrower intervals.')}><InfoCircleOutlined /></Tooltip></Space>}
              value={conv.cuped ? pp(conv.cuped.estimate) : '–'} formatter={(v) => <span data-testid="cuped">{v}</span>} />
            {conv.cuped ? <>
              <Typography.Text type="secondary" style={{ display: 'block' }}>{t('随时可看 95% 置信序列', 'Anytime-valid 95% sequence')} {ppRange(conv.cuped.cs95)}</Typography.Text>
              <Typography.Text type="secondary" style={{ display: 'block' }}>{t('固定时点 95% 置信区间', 'Fixed-horizon 95% CI')} {ppRange(conv.cuped.ci95)}</Typography.Text>
              <Typography.Text type="secondary" style={{ display: 'block' }} data-testid="cuped-narrowing">{t(`区间收窄 ${fmtPct(conv.cuped.narrowing, 1)}（方差减少 ${fmtPct(conv.cuped.variance_reduction, 1)}）`, `Intervals ${fmtPct(conv.cuped.narrowing, 1)} narrower (variance ${fmtPct(conv.cuped.variance_reduction, 1)} lower)`)}</Typography.Text>
            </> : <Typography.Text type="secondary">{t('客户活动前没有该品类订单，无法调整', 'Nobody bought the offer\'s items before: no adjustment')}</Typography.Text>}
          </Card></Col>
          <Col xs={24} md={8}><Card bordered={false} style={{ height: '100%' }}>
            <Statistic title={t('人均销售额提升', 'Revenue per person uplift')} value={rev ? fmtYuan(rev.estimate) : '–'} formatter={(v) => <span data-testid="revenue-uplift">{v}</span>} />
            {rev && <>
              <Typography.Text type="secondary" style={{ display: 'block' }}>{t('随时可看 95% 置信序列', 'Anytime-valid 95% sequence')} {yuanRange(rev.cs95)}</Typography.Text>
              <Typography.Text type="secondary" style={{ display: 'block' }}>{t('固定时点 95% 置信区间', 'Fixed-horizon 95% CI')} {yuanRange(rev.ci95)}</Typography.Text>
            </>}
          </Card></Col>
        </Row>
      )}
      {c.status !== 'draft' && (
        <Row gutter={[16, 16]} style={{ marginTop: 16 }}>
          <Col xs={24} xl={12}>
            <Card bordered={false} title={t('发送进度', 'Delivery')} data-testid="sends" style={{ height: '100%' }}
              extra={total > 0 && <Typography.Text type="secondary">{t('实验组计划', 'Planned')} <b data-testid="sends-total">{fmtInt(total)}</b> {t('人', 'people')}</Typography.Text>}>
              {c.channel === 'robot' ? (
                <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('群机器人按群发送，不逐人记录；发送结果见右侧「发送任务」。', 'Group robots post per group chat, not per person: see the channel tasks.')} />
              ) : total === 0 ? (
                <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={live
                  ? (c.trigger === 'segment_entry' ? t('暂无触达：等待客户进入人群', 'Nobody yet: waiting for people to enter the segment')
                    : c.trigger === 'replenishment' ? t('暂无触达：等待家庭到达补货时间', 'Nobody yet: waiting for households to come due')
                    : c.status === 'scheduled' ? t('等待开始时间', 'Waiting for the start') : t('正在写入发送计划…', 'Writing the plan…'))
                  : t('实验组没有需要发送的客户', 'Nobody in the treatment to send to')} />
              ) : (
                <>
                  <div className="send-flow" data-testid="send-flow">
                    <div className="send-stage"><div className="label">{t('计划', 'Planned')}</div><div className="value">{fmtInt(total)}</div>
                      <div className="sub">{t('待发送', 'waiting')} {fmtInt(count('planned'))}</div></div>
                    <ArrowRightOutlined className="send-arrow" />
                    <div className="send-stage"><div className="label">{t('发送中', 'Sending')}</div><div className="value" style={{ color: count('sending') ? '#1677ff' : undefined }}>{fmtInt(count('sending'))}</div>
                      <div className="sub">{c.channel === 'wecom' ? t('员工群发任务', 'staff tasks') : c.channel === 'webhook' ? t('网关批次', 'gateway batches') : t('写入发件箱', 'to the outbox')}</div></div>
                    <ArrowRightOutlined className="send-arrow" />
                    <div className="send-stage"><div className="label">{t('已发送', 'Sent')}</div><div className="value" data-testid="sends-sent">{fmtInt(count('sent') + count('delivered'))}</div>
                      <div className="sub">{c.channel === 'wecom' ? t(`待回执 ${fmtInt(count('sent'))}`, `${fmtInt(count('sent'))} awaiting result`) : c.channel === 'outbox' ? t('仅记录，无回执', 'recorded, no receipts') : t('网关已接收', 'taken by the gateway')}</div></div>
                    <ArrowRightOutlined className="send-arrow" />
                    <div className="send-stage"><div className="label">{t('已送达 / 失败', 'Delivered / failed')}</div>
                      <div className="value"><span style={{ color: '#389e0d' }}>{fmtInt(count('delivered'))}</span> <span className="slash">/</span> <span style={{ color: count('failed') ? '#cf1322' : undefined }} data-testid="sends-failed">{fmtInt(count('failed'))}</span></div>
                      <div className="sub">{c.channel === 'wecom' ? t('企业微信每 5 分钟回传', 'from WeCom every 5 min') : '\u00a0'}</div></div>
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
                    format={(p) => t(`已处理 ${p}%`, `${p}% processed`)} />
                  {count('failed') > 0 && (
                    <div style={{ marginTop: 12 }} data-testid="failure-reasons">
                      <Typography.Text type="secondary">{t('失败原因：', 'Failed because: ')}</Typography.Text>
                      <Space wrap size={[8, 4]}>
                        {reasons.map((r) => <Tag key={r.reason} color="red">{name(r.reason)} {fmtInt(r.n)}</Tag>)}
                        {unexplained > 0 && <Tag>{t('其他', 'other')} {fmtInt(unexplained)}</Tag>}
                      </Space>
                    </div>
                  )}
                </>
              )}
            </Card>
          </Col>
          <Col xs={24} xl={12}>
            <Card bordered={false} title={t('发送任务', 'Channel tasks')} style={{ height: '100%' }}
              extra={<Tooltip title={t('每次渠道调用先记入任务日志再发出：企业微信按员工建群发任务，群机器人每群一条，短信网关每 500 人一批；故障恢复后不会重复发送。',
                'Every channel call is journalled before it is made: a WeCom task per staff member, a post per robot, a webhook batch per 500 people; recovery never sends twice.')}><InfoCircleOutlined /></Tooltip>}>
              <Table size="small" rowKey="id" data-testid="tasks" dataSource={tasks ?? []} loading={!tasks} pagination={{ pageSize: 8, hideOnSinglePage: true, size: 'small' }}
                locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={c.channel === 'outbox'
                  ? t('记录待发渠道直接写入发件箱，不产生渠道任务', 'The outbox records messages directly: no channel tasks')
                  : t('暂无发送任务', 'No tasks yet')} /> }}
                columns={[
                  { title: c.channel === 'wecom' ? t('员工', 'Staff') : c.channel === 'robot' ? t('群机器人', 'Robot') : t('对象', 'Target'), dataIndex: 'target', render: (v) => v || '–' },
                  { title: t('人数', 'People'), dataIndex: 'recipients', align: 'right', render: (v) => (c.channel === 'robot' ? '–' : fmtInt(v)) },
                  { title: t('状态', 'State'), dataIndex: 'state', render: (v) => <Tag color={taskColor[v]}>{taskState[v] ?? v}</Tag> },
                  { title: c.channel === 'wecom' ? 'msgid' : c.channel === 'webhook' ? 'Idempotency-Key' : t('引用', 'Ref'), dataIndex: 'ref',
                    render: (v) => (v ? <Typography.Text code copyable={{ text: v }} style={{ fontSize: 12 }} ellipsis={{ tooltip: v }}>{v}</Typography.Text> : '–'), width: 170 },
                  { title: t('说明', 'Detail'), dataIndex: 'detail', render: (v) => (v ? <Typography.Text type="secondary" style={{ fontSize: 12 }}>{v}</Typography.Text> : '–') },
                  { title: t('时间', 'At'), dataIndex: 'attempt_at', render: fmtTime, width: 160 },
                ]} />
            </Card>
          </Col>
        </Row>
      )}
      <Row gutter={[16, 16]} style={{ marginTop: 16 }}>
        <Col xs={24} xl={16}>
          <Card bordered={false} title={t(`转化随时间变化（归因窗口 ${c.attribution_days} 天）`, `Conversion over time (${c.attribution_days}-day attribution window)`)}>
            {d && d.days.length ? <Chart option={over} height={320} testId="chart-over-time" /> : <Empty description={c.status === 'draft' ? t('启动后显示每日转化', 'Daily conversion appears after launch') : live ? t('发送后显示每日转化', 'Daily conversion appears once sent') : t('没有已发送或对照组客户', 'Nobody was sent to or held out')} />}
          </Card>
        </Col>
        <Col xs={24} xl={8}>
          <Card bordered={false} title={t('转化率对比', 'Conversion rates')}>
            <Chart option={compare} height={320} testId="chart-compare" />
          </Card>
        </Col>
      </Row>
      <Row gutter={[16, 16]} style={{ marginTop: 16 }}>
        <Col xs={24} xl={14}>
          <Card bordered={false} title={t('分组明细', 'By group')}>
            <Table size="small" pagination={false} rowKey="g" dataSource={[{ g: 'treatment', ...u.treatment }, { g: 'holdout', ...u.holdout }]}
              columns={[
                { title: t('分组', 'Group'), dataIndex: 'g', render: (v) => name(v) },
                { title: t('人数', 'People'), dataIndex: 'persons', align: 'right', render: fmtInt },
                { title: t('转化人数', 'Converted'), dataIndex: 'converted', align: 'right', render: fmtInt },
                { title: t('转化率', 'Rate'), dataIndex: 'rate', align: 'right', render: (v) => fmtPct(v, 2) },
                { title: t('销售额', 'Revenue'), dataIndex: 'revenue', align: 'right', render: fmtYuan },
                { title: t('人均销售额', 'Revenue / person'), dataIndex: 'revenue_per_person', align: 'right', render: fmtYuan },
              ]} />
            <Typography.Text type="secondary" style={{ display: 'block', marginTop: 8, fontSize: 12 }}>
              {t('按意向处理计：实验组含所有分入者，无论消息是否送达；合并后的客户在原分组中继续跟踪。', 'By intention to treat: the treatment counts everyone assigned to it, delivered or not; merged customers stay in their group.')}
            </Typography.Text>
            {holdoutExcluded.length > 0 && (
              <div style={{ marginTop: 8 }} data-testid="holdout-excluded">
                <Typography.Text type="secondary" style={{ fontSize: 12 }}>{t('对照组同样排除（分入实验组也不会发送）：', 'Also left out of the holdout (would not have been sent to): ')}</Typography.Text>
                <Space wrap size={[8, 4]}>{holdoutExcluded.map(([k, n]) => <Tag key={k}>{name(k)} {fmtInt(n)}</Tag>)}</Space>
              </div>
            )}
          </Card>
        </Col>
        <Col xs={24} xl={10}>
          <Card bordered={false} title={t('活动设置', 'Settings')}>
            <Descriptions size="small" column={1} data-testid="campaign-settings">
              <Descriptions.Item label={t('优惠', 'Offer')}>{offer?.name ?? c.offer_id}</Descriptions.Item>
              <Descriptions.Item label={t('目标人群', 'Segment')}>{c.segment_id ? <Link to={`/segments/${c.segment_id}`}>{seg?.name ?? c.segment_id}</Link> : <Typography.Text type="secondary">{c.trigger === 'replenishment' ? t('不限（按补货预测）', 'Any (by replenishment prediction)') : t('不限', 'Any')}</Typography.Text>}</Descriptions.Item>
              <Descriptions.Item label={t('渠道', 'Channel')}>{name(c.channel)}{(c.targets ?? []).length > 0 && <> · {(c.targets ?? []).map((x) => <Tag key={x} style={{ marginLeft: 4 }}>{x}</Tag>)}</>}</Descriptions.Item>
              <Descriptions.Item label={t('触发方式', 'Trigger')}><span data-testid="campaign-trigger">{name(c.trigger || 'once')}</span>
                {c.trigger === 'replenishment' && <Typography.Text type="secondary">{t(`（${name(c.replenish_kind || '')}，提前 ${c.lead_days || 3} 天）`, ` (${name(c.replenish_kind || '')}, ${c.lead_days || 3} days ahead)`)}</Typography.Text>}</Descriptions.Item>
              {(c.start_at || c.end_at) && <Descriptions.Item label={t('时间', 'Schedule')}>{c.start_at ? fmtTime(c.start_at) : t('启动即发', 'at launch')} → {c.end_at ? fmtTime(c.end_at) : t('不设结束', 'no end')}</Descriptions.Item>}
              <Descriptions.Item label={t('对照组 / 全局对照', 'Holdout / global control')}>{c.holdout_percent}% / {c.global_control_percent}%</Descriptions.Item>
              <Descriptions.Item label={t('频次上限', 'Caps')}>{[
                c.cap_per_day ? t(`${c.cap_per_day} 条/天`, `${c.cap_per_day}/day`) : null,
                t(`${c.cap_per_week} 条/周`, `${c.cap_per_week}/week`),
                c.cap_per_month ? t(`${c.cap_per_month} 条/月`, `${c.cap_per_month}/month`) : null,
              ].filter(Boolean).join(t('，', ', '))}{t('（每人，跨所有活动）', ' per person, across campaigns')}</Descriptions.Item>
              <Descriptions.Item label={t('免打扰', 'Quiet hours')}>{c.quiet_start === c.quiet_end ? t('不设', 'none') : `${c.quiet_start}:00 – ${c.quiet_end}:00`}</Descriptions.Item>
              <Descriptions.Item label={t('启动时间', 'Launched')}>{fmtTime(c.launched_at)}</Descriptions.Item>
              <Descriptions.Item label={t('消息模板', 'Template')}><Typography.Text style={{ whiteSpace: 'pre-wrap' }}>{c.template}</Typography.Text></Descriptions.Item>
            </Descriptions>
          </Card>
        </Col>
      </Row>
    </>
  );
}
