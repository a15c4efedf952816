import { useEffect, useMemo, useState } from 'react';
import { Card, Col, Empty, Row, Segmented, Select, Space, Table, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import * as echarts from 'echarts/core';
import { EffectScatterChart, MapChart } from 'echarts/charts';
import { GeoComponent, VisualMapComponent } from 'echarts/components';
import { DemandAlert, DemandForecast, DemandPoint, get, post } from '../api';
import Chart from '../components/Chart';
import { ErrorAlert, fmtTime, PageTitle } from '../components/common';
import { Label, mapOption, seriesOption } from './demand/model';
import chinaGeo from './demand/china.geo.json';
import RegressorsCard from './demand/Regressors';

// The China map is committed (demand/china.geo.LICENSE.md names its
// source): the console builds and draws it with no network.
echarts.use([MapChart, EffectScatterChart, GeoComponent, VisualMapComponent]);
echarts.registerMap('china', chinaGeo as any);

const regionName = (a: DemandAlert, national: string) => [a.series.province, a.series.city].filter(Boolean).join(' · ') || national;

// Demand (需求感知) shows the surge alerts of the last days on a China map
// (provinces coloured by their strongest alert, a point per city with
// alerts), lists them with their evidence (observed against expected,
// strength, q, the neighbouring cities) and draws the chosen alert's
// series: daily demand signals and units ordered, with the 14-day
// forecast of units and its 80% and 95% intervals.
export default function Demand() {
  const { t } = useTranslation();
  const label = t as unknown as Label;
  const [days, setDays] = useState(7);
  const [alerts, setAlerts] = useState<DemandAlert[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [cls, setCls] = useState<string>('');
  const [province, setProvince] = useState<string>('');
  const [chosen, setChosen] = useState<DemandAlert | undefined>();
  useEffect(() => {
    setAlerts(null);
    get<{ alerts: DemandAlert[] }>(`/demand/alerts?days=${days}&limit=1000`)
      .then((r) => {
        setAlerts(r.alerts);
        setChosen((c) => c ?? r.alerts[0]);
      })
      .catch(setError);
  }, [days]);
  const classes = useMemo(() => [...new Set((alerts ?? []).map((a) => a.series.class))].sort(), [alerts]);
  const ofClass = useMemo(() => (alerts ?? []).filter((a) => !cls || a.series.class === cls), [alerts, cls]);
  const shown = useMemo(() => ofClass.filter((a) => !province || a.series.province === province), [ofClass, province]);
  const map = useMemo(() => mapOption(ofClass, label), [ofClass, label]);
  const onMapClick = (p: any) => {
    if (p.seriesType === 'effectScatter') setChosen(ofClass.find((a) => a.id === p.data?.alertId));
    else if (p.name) setProvince((cur) => (cur === p.name ? '' : p.name));
  };
  return (
    <>
      <PageTitle
        title={t('common.demand')}
        sub={t('demand.subtitle')}
        extra={
          <Space>
            <Select style={{ width: 180 }} value={cls} onChange={setCls} data-testid="demand-class"
              options={[{ value: '', label: t('demand.allClasses') }, ...classes.map((c) => ({ value: c, label: c }))]} />
            <Segmented value={days} onChange={(v) => setDays(v as number)} data-testid="demand-days"
              options={[7, 30, 90].map((d) => ({ value: d, label: t('demand.lastDays', { count: d }) }))} />
          </Space>
        }
      />
      {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
      <Row gutter={16}>
        <Col xs={24} xl={11}>
          <Card bordered={false} title={t('demand.map')} style={{ marginBottom: 16 }} loading={!alerts && !error}>
            <Chart option={map} height={420} testId="demand-map" onClick={onMapClick} />
            <Typography.Paragraph type="secondary" style={{ margin: 0 }}>{t('demand.mapHelp')}</Typography.Paragraph>
          </Card>
        </Col>
        <Col xs={24} xl={13}>
          <SeriesCard alert={chosen} />
        </Col>
      </Row>
      <Card bordered={false} data-testid="demand-alerts"
        title={<Space>{t('demand.alerts')}{province && <Tag closable onClose={() => setProvince('')} color="red">{province}</Tag>}</Space>}>
        <Table<DemandAlert> rowKey="id" size="small" dataSource={shown} loading={!alerts && !error} pagination={{ pageSize: 20, hideOnSinglePage: true }}
          locale={{ emptyText: <Empty description={t('demand.noAlertsYet')} /> }}
          rowClassName={(a) => (a.id === chosen?.id ? 'ant-table-row-selected' : '')}
          onRow={(a) => ({ onClick: () => setChosen(a), style: { cursor: 'pointer' } })}
          columns={[
            { title: t('demand.windowEnd'), className: 'nowrap', render: (_, a) => fmtTime(a.to) },
            { title: t('demand.class'), className: 'nowrap', render: (_, a) => a.series.class },
            { title: t('demand.region'), className: 'nowrap', render: (_, a) => regionName(a, t('demand.national')) },
            { title: t('demand.observedExpected'), className: 'nowrap', render: (_, a) => `${a.observed.toLocaleString()} / ${a.expected.toFixed(1)}` },
            { title: t('demand.strength'), className: 'nowrap', render: (_, a) => <Tag color="red">×{a.ratio.toFixed(1)}</Tag> },
            { title: 'q', className: 'nowrap', render: (_, a) => a.q.toExponential(1) },
            {
              title: t('demand.neighbours'),
              render: (_, a) => (a.neighbours ?? []).slice(0, 5).map((n) => (
                <Tag key={n.province + n.city} color={n.alarmed ? 'red' : undefined}>{n.city || n.province} ×{n.ratio.toFixed(1)}</Tag>
              )),
            },
          ]} />
      </Card>
      <RegressorsCard />
    </>
  );
}

// SeriesCard draws the alert's series over the 60 days before its window
// and the forecast of its units from today.
function SeriesCard({ alert }: { alert?: DemandAlert }) {
  const { t } = useTranslation();
  const [points, setPoints] = useState<DemandPoint[]>([]);
  const [forecast, setForecast] = useState<DemandForecast | undefined>();
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  useEffect(() => {
    if (!alert) return;
    const ctl = new AbortController();
    const k = alert.series;
    const to = new Date(Math.max(Date.parse(alert.to), Date.now()));
    const from = new Date(Date.parse(alert.to) - 60 * 86400_000);
    // A province's or the nation's alert has the forecast of that sum.
    const level = k.city ? 'city' : k.province ? 'province' : 'nation';
    const q = new URLSearchParams({ level, class: k.class, province: k.province, city: k.city });
    setLoading(true);
    setError(null);
    Promise.all([
      post<{ points: DemandPoint[] }>('/demand/series', { class: k.class, province: k.province, city: k.city, granularity: 'day', from: from.toISOString(), to: to.toISOString() }, ctl.signal),
      get<{ forecasts: DemandForecast[] }>('/demand/forecast?' + q, ctl.signal),
    ])
      .then(([s, f]) => {
        setPoints(s.points);
        setForecast(f.forecasts[0]);
      })
      .catch((e) => !ctl.signal.aborted && setError(e))
      .finally(() => !ctl.signal.aborted && setLoading(false));
    return () => ctl.abort();
  }, [alert]);
  const option = useMemo(() => seriesOption(points, forecast, alert, t as unknown as Label), [points, forecast, alert, t]);
  return (
    <Card bordered={false} style={{ marginBottom: 16 }} loading={loading}
      title={alert ? t('demand.seriesOf', { series: `${alert.series.class} · ${regionName(alert, t('demand.national'))}` }) : t('demand.series')}>
      {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
      {alert ? <Chart option={option} height={420} testId="demand-series" /> : <Empty description={t('demand.pickAlert')} />}
      {alert && !forecast && !loading && <Typography.Text type="secondary">{t('demand.noForecast')}</Typography.Text>}
    </Card>
  );
}
