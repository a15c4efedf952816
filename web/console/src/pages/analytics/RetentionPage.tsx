import { useMemo } from 'react';
import { useSearchParams } from 'react-router-dom';
import { Card, InputNumber, Segmented, Select, Space, Table, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { useName } from '../../i18n';
import Chart from '../../components/Chart';
import { ErrorAlert, fmtInt, fmtPct } from '../../components/common';
import { CohortResult, LTV, Repurchase, RepurchaseResult, Retention, toCSV } from './model';
import { ChartBox, ExportBar, RefreshButton, useAnalysis, useChartRef } from './shared';

const cohorts = ['first_order_month', 'channel', 'first_category'];

// RetentionPage: the cohort retention table (retention()), the
// repurchase curves of rice and oil with each one's cycle, and LTV curves.
export default function RetentionPage() {
  const { t } = useTranslation();
  const [mode, setMode] = useModeParam();
  return (
    <Space direction="vertical" style={{ width: '100%' }} size="middle">
      <Segmented value={mode} onChange={(v) => setMode(v as string)} data-testid="retention-mode"
        options={['cohorts', 'repurchase', 'ltv'].map((v) => ({ value: v, label: t(`analytics.mode_${v}` as 'analytics.mode_ltv') }))} />
      {mode === 'cohorts' && <CohortTable key={mode} />}
      {mode === 'repurchase' && <RepurchaseCurves />}
      {mode === 'ltv' && <LTVCurves />}
    </Space>
  );
}

// useModeParam is the shown mode, kept in the link (?mode=); switching
// modes drops the other mode's definition (?q=).
function useModeParam(): [string, (m: string) => void] {
  const [params, setParams] = useSearchParams();
  return [params.get('mode') || 'cohorts', (m) => setParams({ mode: m })];
}

function CohortTable() {
  const { t } = useTranslation();
  const name = useName();
  const a = useAnalysis<Retention, CohortResult>('/analytics/retention', { cohort: 'first_order_month', months: 12 });
  const chart = useChartRef();
  const r = a.result;
  const months = r ? Array.from({ length: r.months + 1 }, (_, k) => k) : [];
  const rate = (row: CohortResult['rows'][number], k: number) => (row.eligible[k] ? (row.retained?.[k] ?? 0) / row.eligible[k] : undefined);
  return (
    <Card bordered={false} title={t('analytics.mode_cohorts')}
      extra={<Space wrap>
        <Select style={{ width: 150 }} value={a.def.cohort} onChange={(v) => a.run({ ...a.def, cohort: v })} options={cohorts.map((c) => ({ value: c, label: t(`analytics.cohort_${c}` as 'analytics.cohort_channel') }))} data-testid="cohort" />
        <InputNumber min={1} max={24} value={a.def.months} onChange={(v) => v && a.run({ ...a.def, months: v })} addonAfter={t('analytics.months')} />
        <RefreshButton onClick={() => (a.result ? a.refresh() : a.run(a.def))} loading={a.loading} />
        <ExportBar meta={r} name="retention" chart={chart} csv={() => toCSV([[t('analytics.cohort'), t('analytics.customers'), ...months.map((k) => 'M' + k)],
          ...(r?.rows ?? []).map((row) => [row.cohort, row.size, ...months.map((k) => (rate(row, k) === undefined ? '' : (rate(row, k)! * 100).toFixed(1) + '%'))])])} />
      </Space>}>
      {a.error ? <ErrorAlert error={a.error} /> : null}
      {!r && !a.loading && <Typography.Text type="secondary">{t('analytics.runToSee')}</Typography.Text>}
      {r && (
        <ChartBox boxRef={chart}>
          <Chart height={220} option={{
            tooltip: { trigger: 'axis', valueFormatter: (v: number) => fmtPct(v) },
            grid: { left: 48, right: 16, top: 16, bottom: 32 },
            xAxis: { type: 'category', data: months.slice(1).map((k) => 'M' + k) },
            yAxis: { type: 'value', axisLabel: { formatter: (v: number) => fmtPct(v, 0) } },
            series: r.rows.slice(-8).map((row) => ({ type: 'line', name: row.cohort, data: months.slice(1).map((k) => rate(row, k) ?? null) })),
          }} />
        </ChartBox>
      )}
      {r && (
        <Table size="small" rowKey="cohort" pagination={false} scroll={{ x: true }} dataSource={r.rows} data-testid="retention-table"
          columns={[{ title: t('analytics.cohort'), dataIndex: 'cohort', fixed: 'left', render: (v) => name(v) || v },
            { title: t('analytics.customers'), dataIndex: 'size', align: 'right', render: fmtInt },
            ...months.slice(1).map((k) => ({ title: 'M' + k, key: 'm' + k, align: 'right' as const, render: (_: unknown, row: CohortResult['rows'][number]) => {
              const v = rate(row, k);
              return v === undefined ? '' : <span style={{ display: 'block', background: `rgba(22,119,255,${Math.min(0.85, v * 1.5)})`, color: v > 0.4 ? '#fff' : undefined, padding: '0 4px' }} data-testid={`cell-${row.cohort}-${k}`}>{fmtPct(v)}</span>;
            } }))]} />
      )}
    </Card>
  );
}

function RepurchaseCurves() {
  const { t } = useTranslation();
  const name = useName();
  const a = useAnalysis<Repurchase, RepurchaseResult>('/analytics/repurchase', { kind: 'rice' });
  const chart = useChartRef();
  const r = a.result;
  const option = useMemo(() => r && ({
    tooltip: { trigger: 'axis', valueFormatter: (v: number) => fmtPct(v) },
    legend: { top: 0 },
    grid: { left: 48, right: 16, top: 32, bottom: 32 },
    xAxis: { type: 'category', name: t('analytics.dayN'), data: Array.from({ length: r.days }, (_, i) => i + 1) },
    yAxis: { type: 'value', axisLabel: { formatter: (v: number) => fmtPct(v, 0) } },
    series: r.curves.map((c, i) => ({
      type: 'line', showSymbol: false, name: name(c.cohort) || name(r.kind), data: c.rate,
      markLine: i === 0 ? { symbol: 'none', data: [1, 2, 3].filter((m) => m * r.cycle_days <= r.days).map((m) => ({ xAxis: String(Math.round(m * r.cycle_days)), label: { formatter: `${m}× ${t('analytics.cycle')}` } })) } : undefined,
    })),
  }), [r, t, name]);
  const at = (d: number) => r?.curves[0] && d >= 1 && d <= r.days ? r.curves[0].rate[d - 1] : undefined;
  return (
    <Card bordered={false} title={t('analytics.mode_repurchase')}
      extra={<Space wrap>
        <Segmented value={a.def.kind} onChange={(v) => a.run({ ...a.def, kind: v as string, days: undefined })} data-testid="repurchase-kind"
          options={[{ value: 'rice', label: name('rice') }, { value: 'oil', label: name('oil') }]} />
        <Select style={{ width: 140 }} value={a.def.cohort || ''} onChange={(v) => a.run({ ...a.def, cohort: v || undefined })}
          options={['', 'first_order_month', 'channel'].map((c) => ({ value: c, label: c ? t(`analytics.cohort_${c}` as 'analytics.cohort_channel') : t('analytics.allBuyers') }))} />
        <RefreshButton onClick={() => (a.result ? a.refresh() : a.run(a.def))} loading={a.loading} />
        <ExportBar meta={r} name={'repurchase-' + a.def.kind} chart={chart} csv={() => toCSV([[t('analytics.cohort'), t('analytics.dayN'), t('analytics.eligible'), t('analytics.repurchased'), t('analytics.rate')],
          ...(r?.curves ?? []).flatMap((c) => c.rate.map((v, i) => [c.cohort, i + 1, c.eligible[i], c.repurchased[i], v.toFixed(4)]))])} />
      </Space>}>
      {a.error ? <ErrorAlert error={a.error} /> : null}
      {!r && !a.loading && <Typography.Text type="secondary">{t('analytics.runToSee')}</Typography.Text>}
      {r && (
        <>
          <Typography.Paragraph data-testid="cycle">
            {t('analytics.cycleIs', { kind: name(r.kind), days: r.cycle_days.toFixed(0) })}
            {r.cycle_source === 'prior' && <Typography.Text type="secondary">（{t('analytics.cyclePrior')}）</Typography.Text>}
            {' '}{[1, 2, 3].map((m) => `${m}×: ${fmtPct(at(Math.round(m * r.cycle_days)))}`).join(' · ')}
          </Typography.Paragraph>
          <ChartBox boxRef={chart}><Chart option={option} height={320} testId="repurchase-chart" /></ChartBox>
        </>
      )}
    </Card>
  );
}

function LTVCurves() {
  const { t } = useTranslation();
  const name = useName();
  const a = useAnalysis<LTV, CohortResult>('/analytics/ltv', { cohort: 'channel', months: 12 });
  const chart = useChartRef();
  const r = a.result;
  const months = r ? Array.from({ length: r.months + 1 }, (_, k) => k) : [];
  return (
    <Card bordered={false} title={t('analytics.mode_ltv')}
      extra={<Space wrap>
        <Select style={{ width: 150 }} value={a.def.cohort} onChange={(v) => a.run({ ...a.def, cohort: v })} options={cohorts.map((c) => ({ value: c, label: t(`analytics.cohort_${c}` as 'analytics.cohort_channel') }))} />
        <RefreshButton onClick={() => (a.result ? a.refresh() : a.run(a.def))} loading={a.loading} />
        <ExportBar meta={r} name="ltv" chart={chart} csv={() => toCSV([[t('analytics.cohort'), t('analytics.customers'), ...months.map((k) => 'M' + k)],
          ...(r?.rows ?? []).map((row) => [row.cohort, row.size, ...months.map((k) => (row.eligible[k] ? (row.value?.[k] ?? 0).toFixed(2) : ''))])])} />
      </Space>}>
      {a.error ? <ErrorAlert error={a.error} /> : null}
      {!r && !a.loading && <Typography.Text type="secondary">{t('analytics.runToSee')}</Typography.Text>}
      {r && (
        <ChartBox boxRef={chart}>
          <Chart height={320} testId="ltv-chart" option={{
            tooltip: { trigger: 'axis', valueFormatter: (v: number) => '¥' + (v ?? 0).toFixed(2) },
            legend: { top: 0 },
            grid: { left: 56, right: 16, top: 32, bottom: 32 },
            xAxis: { type: 'category', data: months.map((k) => 'M' + k) },
            yAxis: { type: 'value', name: t('analytics.yuanPerCustomer') },
            series: r.rows.map((row) => ({ type: 'line', name: `${name(row.cohort) || row.cohort} (${fmtInt(row.size)})`, data: months.map((k) => (row.eligible[k] ? row.value?.[k] : null)) })),
          }} />
        </ChartBox>
      )}
    </Card>
  );
}
