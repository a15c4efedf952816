import { useMemo } from 'react';
import { Card, Segmented, Space, Table, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import Chart from '../../components/Chart';
import { ErrorAlert, fmtInt } from '../../components/common';
import { Lifecycle, LifecycleResult, toCSV } from './model';
import { ChartBox, ExportBar, RefreshButton, useAnalysis, useChartRef } from './shared';

const states = ['new', 'returning', 'resurrecting', 'dormant'] as const;
const colors = { new: '#1677ff', returning: '#52c41a', resurrecting: '#faad14', dormant: '#bfbfbf' };

// LifecyclePage: new, returning, resurrecting and dormant customers per
// week or month, for buyers or engaged customers; dormant drawn below
// the axis.
export default function LifecyclePage() {
  const { t } = useTranslation();
  const a = useAnalysis<Lifecycle, LifecycleResult>('/analytics/lifecycle', { audience: 'buyers', period: 'week' });
  const chart = useChartRef();
  const r = a.result;
  const option = useMemo(() => r && ({
    tooltip: { trigger: 'axis', valueFormatter: (v: number) => fmtInt(Math.abs(v)) },
    legend: { top: 0 },
    grid: { left: 56, right: 16, top: 32, bottom: 32 },
    xAxis: { type: 'category', data: r.periods.map((p) => p.period) },
    yAxis: { type: 'value' },
    series: states.map((s) => ({
      type: 'bar', stack: s === 'dormant' ? 'out' : 'in', name: t(`analytics.state_${s}`), itemStyle: { color: colors[s] },
      data: r.periods.map((p) => (s === 'dormant' ? -p[s] : p[s])),
    })),
  }), [r, t]);
  return (
    <Card bordered={false} title={t('analytics.lifecycle')}
      extra={<Space wrap>
        <Segmented value={a.def.audience} data-testid="audience" onChange={(v) => a.run({ ...a.def, audience: v as string })}
          options={['buyers', 'engaged'].map((v) => ({ value: v, label: t(`analytics.audience_${v}` as 'analytics.audience_buyers') }))} />
        <Segmented value={a.def.period} data-testid="period" onChange={(v) => a.run({ ...a.def, period: v as string })}
          options={['week', 'month'].map((v) => ({ value: v, label: t(`analytics.period_${v}` as 'analytics.period_week') }))} />
        <RefreshButton onClick={() => (a.result ? a.refresh() : a.run(a.def))} loading={a.loading} />
        <ExportBar meta={r} name="lifecycle" chart={chart} csv={() => toCSV([[t('analytics.period'), ...states.map((s) => t(`analytics.state_${s}`))],
          ...(r?.periods ?? []).map((p) => [p.period, ...states.map((s) => p[s])])])} />
      </Space>}>
      {a.error ? <ErrorAlert error={a.error} /> : null}
      {!r && !a.loading && <Typography.Text type="secondary">{t('analytics.runToSee')}</Typography.Text>}
      <Typography.Paragraph type="secondary" style={{ fontSize: 12 }}>{t('analytics.lifecycleHelp')}</Typography.Paragraph>
      {r && <ChartBox boxRef={chart}><Chart option={option} height={320} testId="lifecycle-chart" /></ChartBox>}
      {r && (
        <Table size="small" rowKey="period" pagination={false} dataSource={[...r.periods].reverse()} data-testid="lifecycle-table" style={{ marginTop: 12 }}
          columns={[{ title: t('analytics.period'), dataIndex: 'period' },
            ...states.map((s) => ({ title: t(`analytics.state_${s}`), dataIndex: s, align: 'right' as const, render: (v: number) => fmtInt(v) }))]} />
      )}
    </Card>
  );
}
