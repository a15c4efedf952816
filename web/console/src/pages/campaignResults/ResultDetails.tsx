import { useMemo } from 'react';
import { Link } from 'react-router-dom';
import { Card, Col, Descriptions, Empty, Row, Space, Table, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import type { Campaign, Offer, ResultsOverTime, Segment, Uplift } from '../../api';
import { useName } from '../../i18n';
import Chart from '../../components/Chart';
import { fmtInt, fmtPct, fmtTime, fmtYuan } from '../../components/common';

const pctAxis = { type: 'value', axisLabel: { formatter: (v: number) => (v * 100).toFixed(1) + '%' } };
const pctTooltip = { trigger: 'axis', valueFormatter: (v: number) => (v * 100).toFixed(2) + '%' };

// ResultCharts: cumulative conversion by day in both groups, and the two
// conversion rates side by side.
export function ResultCharts({ c, u, d, live }: { c: Campaign; u: Uplift; d: ResultsOverTime | null; live: boolean }) {
  const { t } = useTranslation();
  const over = useMemo(() => ({
    tooltip: pctTooltip,
    legend: { top: 0 },
    grid: { left: 56, right: 20, top: 36, bottom: 28 },
    xAxis: { type: 'category', data: (d?.days ?? []).map((x) => x.day.slice(5)) },
    yAxis: pctAxis,
    series: [
      { name: t('campaignResults.treatmentCumulative'), type: 'line', smooth: true, symbolSize: 5, data: (d?.days ?? []).map((x) => x.treatment_rate), areaStyle: { opacity: 0.08 } },
      { name: t('campaignResults.holdoutCumulative'), type: 'line', smooth: true, symbolSize: 5, data: (d?.days ?? []).map((x) => x.holdout_rate), lineStyle: { type: 'dashed' }, color: '#8c8c8c' },
    ],
  }), [d, t]);
  const compare = useMemo(() => ({
    tooltip: pctTooltip,
    grid: { left: 56, right: 20, top: 20, bottom: 28 },
    xAxis: { type: 'category', data: [t('campaignResults.treatment'), t('common.holdout')] },
    yAxis: pctAxis,
    series: [{ type: 'bar', barWidth: 56, data: [{ value: u.treatment.rate, itemStyle: { color: '#1677ff' } }, { value: u.holdout.rate, itemStyle: { color: '#bfbfbf' } }],
      label: { show: true, position: 'top', formatter: (p: any) => (p.value * 100).toFixed(2) + '%' } }],
  }), [u, t]);
  return (
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
  );
}

// GroupsCard: persons, conversions and revenue of treatment and holdout,
// and who left the holdout for the treatment's exclusions.
export function GroupsCard({ u }: { u: Uplift }) {
  const { t } = useTranslation();
  const name = useName();
  const holdoutExcluded = Object.entries(u.holdout_excluded ?? {}).filter(([, n]) => n > 0);
  return (
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
  );
}

// SettingsCard: what the campaign was set up with.
export function SettingsCard({ c, offer, seg }: { c: Campaign; offer: Offer | null; seg: Segment | null }) {
  const { t } = useTranslation();
  const name = useName();
  const caps = [
    c.cap_per_day ? t('campaignResults.day', { cap_per_day: c.cap_per_day }) : null,
    t('campaignResults.week', { cap_per_week: c.cap_per_week }),
    c.cap_per_month ? t('campaignResults.month', { cap_per_month: c.cap_per_month }) : null,
  ].filter(Boolean).join(t('campaignResults.comma'));
  return (
    <Card bordered={false} title={t('campaignResults.settings')}>
      <Descriptions size="small" column={1} data-testid="campaign-settings">
        <Descriptions.Item label={t('common.offer')}>{offer?.name ?? c.offer_id}</Descriptions.Item>
        <Descriptions.Item label={t('common.segment')}>{c.segment_id ? <Link to={`/segments/${c.segment_id}`}>{seg?.name ?? c.segment_id}</Link> : <Typography.Text type="secondary">{c.trigger === 'replenishment' ? t('campaignResults.anyReplenishmentPrediction') : t('common.any')}</Typography.Text>}</Descriptions.Item>
        <Descriptions.Item label={t('common.channel')}>{name(c.channel)}{(c.targets ?? []).length > 0 && <> · {(c.targets ?? []).map((x) => <Tag key={x} style={{ marginLeft: 4 }}>{x}</Tag>)}</>}</Descriptions.Item>
        <Descriptions.Item label={t('common.trigger')}><span data-testid="campaign-trigger">{name(c.trigger || 'once')}</span>
          {c.trigger === 'replenishment' && <Typography.Text type="secondary">{t('campaignResults.daysAhead', { kind: name(c.replenish_kind || ''), days: c.lead_days || 3 })}</Typography.Text>}</Descriptions.Item>
        {(c.start_at || c.end_at) && <Descriptions.Item label={t('campaignResults.schedule')}>{c.start_at ? fmtTime(c.start_at) : t('campaignResults.launch')} → {c.end_at ? fmtTime(c.end_at) : t('campaignResults.noEnd')}</Descriptions.Item>}
        <Descriptions.Item label={t('campaignResults.holdoutGlobalControl')}>{c.holdout_percent}% / {c.global_control_percent}%</Descriptions.Item>
        <Descriptions.Item label={t('campaignResults.caps')}>{caps}{t('campaignResults.perPersonAcrossCampaigns')}</Descriptions.Item>
        <Descriptions.Item label={t('campaignResults.quietHours')}>{c.quiet_start === c.quiet_end ? t('campaignResults.none') : `${c.quiet_start}:00 – ${c.quiet_end}:00`}</Descriptions.Item>
        <Descriptions.Item label={t('common.launched')}>{fmtTime(c.launched_at)}</Descriptions.Item>
        <Descriptions.Item label={t('campaignResults.template')}><Typography.Text style={{ whiteSpace: 'pre-wrap' }}>{c.template}</Typography.Text></Descriptions.Item>
      </Descriptions>
    </Card>
  );
}
