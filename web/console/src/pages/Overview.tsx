import { useEffect, useMemo, useState } from 'react';
import { Link } from 'react-router-dom';
import { Card, Col, Empty, Row, Skeleton, Statistic, Table, Tag, Typography } from 'antd';
import { ApartmentOutlined, BranchesOutlined, NotificationOutlined, TeamOutlined, WarningOutlined } from '@ant-design/icons';
import { get, Overview } from '../api';
import { useTranslation } from 'react-i18next';
import { useName } from '../i18n';
import Chart from '../components/Chart';
import { ErrorAlert, fmtInt, PageTitle } from '../components/common';

export default function OverviewPage() {
  const { t } = useTranslation();
  const name = useName();
  const [o, setO] = useState<Overview | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const ac = new AbortController();
    get<Overview>('/overview', ac.signal).then(setO).catch((e) => e.name !== 'AbortError' && setError(e));
    return () => ac.abort();
  }, []);

  const todayTotal = o?.records_today.reduce((a, c) => a + c.count, 0) ?? 0;
  const byChannelToday = useMemo(() => {
    const m = new Map<string, number>();
    o?.records_today.forEach((c) => m.set(c.channel, (m.get(c.channel) || 0) + c.count));
    return [...m.entries()].sort((a, b) => b[1] - a[1]);
  }, [o]);
  const pie = useMemo(() => ({
    tooltip: { trigger: 'item', formatter: '{b}: {c} ({d}%)' },
    legend: { orient: 'vertical', right: 0, top: 'middle' },
    series: [{ type: 'pie', radius: ['48%', '72%'], center: ['38%', '50%'], label: { show: false }, itemStyle: { borderColor: '#fff', borderWidth: 2 },
      data: byChannelToday.map(([ch, n]) => ({ name: name(ch), value: n })) }],
  }), [byChannelToday, name]);
  const trend = useMemo(() => {
    if (!o) return {};
    const days = [...new Set(o.last_30_days.map((d) => d.day))].sort();
    const channels = [...new Set(o.last_30_days.map((d) => d.channel))];
    return {
      tooltip: { trigger: 'axis' },
      legend: { top: 0, type: 'scroll' },
      grid: { left: 50, right: 16, top: 40, bottom: 28 },
      xAxis: { type: 'category', data: days.map((d) => d.slice(5)) },
      yAxis: { type: 'value' },
      series: channels.map((ch) => ({ name: name(ch), type: 'bar', stack: 'all', barMaxWidth: 18,
        data: days.map((d) => o.last_30_days.find((x) => x.day === d && x.channel === ch)?.count ?? 0) })),
    };
  }, [o, name]);

  if (error) return <ErrorAlert error={error} />;
  if (!o) return <Skeleton active paragraph={{ rows: 10 }} />;
  const kpi = (title: string, value: number, icon: React.ReactNode, color: string, suffix?: React.ReactNode, testId?: string) => (
    <Card bordered={false}>
      <Statistic title={<span>{icon} {title}</span>} value={value} valueStyle={{ color }} suffix={suffix} formatter={(v) => <span data-testid={testId}>{fmtInt(Number(v))}</span>} />
    </Card>
  );
  return (
    <>
      <PageTitle title={t('common.overview')} sub={t('overview.oneidCustomersAcrossChannels')} />
      <Row gutter={[16, 16]}>
        <Col xs={24} sm={12} xl={6}>{kpi(t('overview.customersOneid'), o.persons, <TeamOutlined />, '#1677ff', undefined, 'kpi-persons')}</Col>
        <Col xs={24} sm={12} xl={6}>{kpi(t('overview.recordsReceivedToday'), todayTotal, <ApartmentOutlined />, '#52c41a')}</Col>
        <Col xs={24} sm={12} xl={6}>
          {kpi(t('overview.identityMerges'), o.merges, <BranchesOutlined />, '#722ed1',
            <Typography.Text type="secondary" style={{ fontSize: 13 }}>{t('overview.undone')}{fmtInt(o.merges_undone)}{t('overview.closeParen')}</Typography.Text>)}
        </Col>
        <Col xs={24} sm={12} xl={6}>{kpi(t('overview.identityConflictsRefused'), o.conflicts, <WarningOutlined />, '#fa8c16')}</Col>
      </Row>
      <Row gutter={[16, 16]} style={{ marginTop: 16 }}>
        <Col xs={24} xl={16}>
          <Card title={t('overview.recordsPerChannelLast')} bordered={false}>
            {o.last_30_days.length ? <Chart option={trend} height={300} testId="chart-trend" /> : <Empty description={t('overview.noRecordsLastDays')} />}
          </Card>
        </Col>
        <Col xs={24} xl={8}>
          <Card title={t('overview.receivedTodayChannel')} bordered={false}>
            {byChannelToday.length ? <Chart option={pie} height={300} testId="chart-today" /> : <Empty description={t('overview.nothingReceivedYetToday')} />}
          </Card>
        </Col>
      </Row>
      <Row gutter={[16, 16]} style={{ marginTop: 16 }}>
        <Col xs={24} xl={16}>
          <Card title={<span><NotificationOutlined /> {t('overview.activeCampaigns')}</span>} bordered={false}
            extra={<Link to="/campaigns">{t('overview.allCampaigns')}</Link>}>
            <Table rowKey="id" size="small" pagination={false} dataSource={o.active_campaigns}
              locale={{ emptyText: t('overview.noCampaignSendingRight') }}
              columns={[
                { title: t('common.campaign'), dataIndex: 'name', render: (v, r) => <Link to={`/campaigns/${r.id}/results`}>{v}</Link> },
                { title: t('common.channel'), dataIndex: 'channel', render: (v) => name(v) },
                { title: t('common.holdout'), dataIndex: 'holdout_percent', render: (v) => v + '%' },
                { title: t('common.status'), dataIndex: 'status', render: (v) => <Tag color="processing">{name(v)}</Tag> },
              ]} />
          </Card>
        </Col>
        <Col xs={24} xl={8}>
          <Card title={t('overview.platform')} bordered={false}>
            <Row gutter={16}>
              <Col span={12}><Statistic title={t('overview.identifiers')} value={o.identifiers} formatter={(v) => fmtInt(Number(v))} /></Col>
              <Col span={12}><Statistic title={t('overview.segments')} value={o.segments} /></Col>
              {Object.entries(o.campaigns).map(([k, v]) => (
                <Col span={12} key={k} style={{ marginTop: 16 }}><Statistic title={t('overview.campaigns') + name(k)} value={v} /></Col>
              ))}
            </Row>
          </Card>
        </Col>
      </Row>
    </>
  );
}
