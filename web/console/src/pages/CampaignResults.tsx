import { useEffect, useMemo, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { Alert, Card, Col, Descriptions, Empty, Row, Skeleton, Space, Statistic, Table, Tag, Tooltip, Typography } from 'antd';
import { InfoCircleOutlined } from '@ant-design/icons';
import { Campaign, get, Offer, Segment, Uplift } from '../api';
import { useName, useT } from '../i18n';
import Chart from '../components/Chart';
import { ErrorAlert, fmtInt, fmtPct, fmtTime, fmtYuan, PageTitle } from '../components/common';
import { statusColor } from './Campaigns';

interface Daily { campaign_id: string; attribution_days: number; treatment: number; holdout: number; days: { day: string; treatment_conversions: number; holdout_conversions: number; treatment_rate: number; holdout_rate: number }[] }

const pp = (x: number) => (x >= 0 ? '+' : '') + (x * 100).toFixed(2) + ' pp';

export default function CampaignResults() {
  const t = useT();
  const name = useName();
  const { id } = useParams();
  const [c, setC] = useState<Campaign | null>(null);
  const [u, setU] = useState<Uplift | null>(null);
  const [d, setD] = useState<Daily | null>(null);
  const [offer, setOffer] = useState<Offer | null>(null);
  const [seg, setSeg] = useState<Segment | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get<Campaign>('/campaigns/' + id).then((c) => {
      setC(c);
      get<{ items: Offer[] }>('/offers').then((r) => setOffer(r.items.find((o) => o.id === c.offer_id) ?? null)).catch(() => {});
      get<Segment>('/segments/' + c.segment_id).then(setSeg).catch(() => {});
    }).catch(setError);
    get<Uplift>(`/campaigns/${id}/results`).then(setU).catch(setError);
    get<Daily>(`/campaigns/${id}/results/daily`).then(setD).catch(setError);
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
  const empty = u.treatment.persons === 0 || u.holdout.persons === 0;
  const significant = !empty && (u.absolute_ci95[0] > 0 || u.absolute_ci95[1] < 0);
  return (
    <>
      <PageTitle title={<Space>{c.name}<Tag color={statusColor[c.status]}>{name(c.status)}</Tag></Space>}
        sub={t('活动效果：实验组与对照组转化对比（95% 置信区间）', 'Results: treatment vs holdout conversion (95% confidence interval)')}
        extra={<Link to="/campaigns">{t('返回活动列表', 'Back to campaigns')}</Link>} />
      {c.status === 'draft' && <Alert type="info" showIcon style={{ marginBottom: 16 }} message={t('活动尚未启动，暂无效果数据。', 'Not launched yet: no results.')} action={<Link to={`/campaigns/${c.id}`}>{t('去编辑', 'Edit')}</Link>} />}
      <Row gutter={[16, 16]} data-testid="results">
        <Col xs={24} sm={12} xl={6}><Card bordered={false}><Statistic title={t('实验组转化率', 'Treatment conversion')} value={fmtPct(u.treatment.rate, 2)} valueStyle={{ color: '#1677ff' }} />
          <Typography.Text type="secondary">{fmtInt(u.treatment.converted)} / {fmtInt(u.treatment.persons)} {t('人', 'people')}</Typography.Text></Card></Col>
        <Col xs={24} sm={12} xl={6}><Card bordered={false}><Statistic title={t('对照组转化率', 'Holdout conversion')} value={fmtPct(u.holdout.rate, 2)} />
          <Typography.Text type="secondary">{fmtInt(u.holdout.converted)} / {fmtInt(u.holdout.persons)} {t('人', 'people')}</Typography.Text></Card></Col>
        <Col xs={24} sm={12} xl={6}><Card bordered={false}>
          <Statistic title={<Space>{t('转化率提升（绝对）', 'Uplift (absolute)')}<Tooltip title={t('实验组与对照组转化率之差；区间为 95% 置信区间（Newcombe 法）', 'Difference of conversion rates; 95% CI by Newcombe\'s method')}><InfoCircleOutlined /></Tooltip></Space>}
            value={pp(u.absolute)} valueStyle={{ color: u.absolute >= 0 ? '#389e0d' : '#cf1322' }} formatter={(v) => <span data-testid="uplift">{v}</span>} />
          <Typography.Text type="secondary">{empty ? t('样本不足，无法计算置信区间', 'Too few people for an interval') : <>{t('95% 置信区间', '95% CI')} [{pp(u.absolute_ci95[0])}, {pp(u.absolute_ci95[1])}]</>}</Typography.Text>
        </Card></Col>
        <Col xs={24} sm={12} xl={6}><Card bordered={false}>
          <Statistic title={t('相对提升', 'Relative uplift')} value={u.relative !== undefined ? fmtPct(u.relative, 1) : '–'} valueStyle={{ color: (u.relative ?? 0) >= 0 ? '#389e0d' : '#cf1322' }} />
          <Typography.Text type="secondary">{u.relative_ci95 ? `${t('95% 置信区间', '95% CI')} [${fmtPct(u.relative_ci95[0], 1)}, ${fmtPct(u.relative_ci95[1], 1)}]` : t('对照组无转化，无法计算', 'holdout converted nobody')}</Typography.Text>
        </Card></Col>
      </Row>
      {c.status !== 'draft' && empty && (
        <Alert style={{ marginTop: 16 }} showIcon type="warning" message={t('实验组或对照组没有人：无法衡量提升。常见原因：人群含敏感标签但客户未单独同意、对照组比例为 0，或全部被免打扰/频次上限排除。',
          'The treatment or the holdout is empty, so no uplift can be measured. Common causes: a sensitive segment without separate consents, a 0% holdout, or everyone excluded by quiet hours or caps.')} />
      )}
      {c.status !== 'draft' && !empty && (
        <Alert style={{ marginTop: 16 }} showIcon type={significant ? (u.absolute > 0 ? 'success' : 'error') : 'info'}
          message={significant
            ? (u.absolute > 0 ? t('提升显著：置信区间不含 0，活动带来了真实的增量转化。', 'Significant: the interval excludes 0; the campaign caused extra conversions.') : t('显著为负：活动降低了转化。', 'Significantly negative: the campaign lowered conversion.'))
            : t('尚不显著：置信区间包含 0，差异可能来自随机波动；可扩大人群或等待更多订单。', 'Not significant yet: the interval includes 0; widen the audience or wait for more orders.')} />
      )}
      <Row gutter={[16, 16]} style={{ marginTop: 16 }}>
        <Col xs={24} xl={16}>
          <Card bordered={false} title={t(`转化随时间变化（归因窗口 ${c.attribution_days} 天）`, `Conversion over time (${c.attribution_days}-day attribution window)`)}>
            {d && d.days.length ? <Chart option={over} height={320} testId="chart-over-time" /> : <Empty description={c.status === 'draft' ? t('启动后显示每日转化', 'Daily conversion appears after launch') : t('没有已发送或对照组客户', 'Nobody was sent to or held out')} />}
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
          </Card>
        </Col>
        <Col xs={24} xl={10}>
          <Card bordered={false} title={t('活动设置', 'Settings')}>
            <Descriptions size="small" column={1}>
              <Descriptions.Item label={t('优惠', 'Offer')}>{offer?.name ?? c.offer_id}</Descriptions.Item>
              <Descriptions.Item label={t('目标人群', 'Segment')}><Link to={`/segments/${c.segment_id}`}>{seg?.name ?? c.segment_id}</Link></Descriptions.Item>
              <Descriptions.Item label={t('渠道', 'Channel')}>{name(c.channel)}</Descriptions.Item>
              <Descriptions.Item label={t('对照组 / 全局对照', 'Holdout / global control')}>{c.holdout_percent}% / {c.global_control_percent}%</Descriptions.Item>
              <Descriptions.Item label={t('频次上限', 'Cap')}>{c.cap_per_week} {t('条/人/周', 'per person per week')}</Descriptions.Item>
              <Descriptions.Item label={t('免打扰', 'Quiet hours')}>{c.quiet_start}:00 – {c.quiet_end}:00</Descriptions.Item>
              <Descriptions.Item label={t('启动时间', 'Launched')}>{fmtTime(c.launched_at)}</Descriptions.Item>
              <Descriptions.Item label={t('消息模板', 'Template')}><Typography.Text style={{ whiteSpace: 'pre-wrap' }}>{c.template}</Typography.Text></Descriptions.Item>
            </Descriptions>
          </Card>
        </Col>
      </Row>
    </>
  );
}
