import { useMemo } from 'react';
import { Link } from 'react-router-dom';
import { Badge, Card, Col, Descriptions, Empty, Progress, Row, Select, Space, Spin, Statistic, Table, Typography } from 'antd';
import { ThunderboltOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import type { Estimate, Overlap, PersonSummary, Segment } from '../../api';
import type { RuleProblem } from '../../components/RuleEditor';
import { useName } from '../../i18n';
import Chart from '../../components/Chart';
import { ErrorAlert, fmtInt, fmtPct, fmtTime, fmtYuan } from '../../components/common';

// EstimateCards: the estimated size (faded while the rule has a problem),
// its share of all customers, and the audience by city and order channel.
export function EstimateCards({ rule, estimate, estimating, problem, estErr, seg }: {
  rule: string; estimate: { rule: string; e: Estimate } | null; estimating: boolean; problem: RuleProblem | null; estErr: unknown; seg: Segment | null;
}) {
  const { t } = useTranslation();
  const name = useName();
  const est = estimate?.e ?? null;
  const share = est && est.universe ? est.count / est.universe : 0;
  const cityChart = useMemo(() => {
    const rows = (est?.by_city ?? []).slice(0, 12).reverse();
    return {
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      grid: { left: 70, right: 30, top: 10, bottom: 24 },
      xAxis: { type: 'value' },
      yAxis: { type: 'category', data: rows.map((r) => r.value || t('segmentBuilder.unknown')) },
      series: [{ type: 'bar', data: rows.map((r) => r.count), barMaxWidth: 16, itemStyle: { borderRadius: [0, 4, 4, 0] }, label: { show: true, position: 'right' } }],
    };
  }, [est, t]);
  const channelChart = useMemo(() => ({
    tooltip: { trigger: 'item', formatter: '{b}: {c} ({d}%)' },
    legend: { bottom: 0 },
    series: [{ type: 'pie', radius: ['40%', '66%'], center: ['50%', '44%'], label: { formatter: '{d}%' },
      data: (est?.by_channel ?? []).map((c) => ({ name: name(c.value || t('segmentBuilder.noOrders')), value: c.count })) }],
  }), [est, name, t]);
  return (
    <>
      <Card bordered={false} title={<Space><ThunderboltOutlined />{t('segmentBuilder.estimatedSize')}{estimating && <Badge status="processing" text={t('segmentBuilder.estimating')} />}</Space>}>
        {estErr ? <ErrorAlert error={estErr} /> : null}
        {!rule.trim() ? (
          <Empty description={t('segmentBuilder.addConditionsSeeEstimate')} />
        ) : (
          <Spin spinning={estimating && !est}>
            <Statistic value={est?.count ?? 0} formatter={(v) => <span data-testid="estimate-count" data-rule={estimate?.rule ?? ''} data-count={est?.count ?? ''} style={{ opacity: problem ? 0.35 : 1 }}>{fmtInt(Number(v))}</span>} suffix={t('common.people')} />
            <Progress percent={+(share * 100).toFixed(2)} size="small" showInfo={false} />
            <Typography.Text type="secondary">
              {t('segmentBuilder.all')} {fmtInt(est?.universe)} {t('segmentBuilder.customers')} {fmtPct(share, 2)} · {t('segmentBuilder.took')} {est?.took_ms?.toFixed(1) ?? '–'} ms
            </Typography.Text>
            {seg && (
              <Descriptions size="small" column={1} style={{ marginTop: 12 }}>
                <Descriptions.Item label={t('segmentBuilder.savedMembers')}>{fmtInt(seg.size)}（{fmtTime(seg.computed_at)}）</Descriptions.Item>
              </Descriptions>
            )}
          </Spin>
        )}
      </Card>
      <Card bordered={false} title={t('segmentBuilder.city')} style={{ marginTop: 16 }}>
        {est?.by_city?.length ? <Chart option={cityChart} height={260} testId="chart-city" /> : <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} />}
      </Card>
      <Card bordered={false} title={t('segmentBuilder.orderChannel')} style={{ marginTop: 16 }}>
        {est?.by_channel?.length ? <Chart option={channelChart} height={240} testId="chart-channel" /> : <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} />}
      </Card>
    </>
  );
}

// SamplesCard lists sample members of the estimate, phones masked.
export function SamplesCard({ samples }: { samples: PersonSummary[] }) {
  const { t } = useTranslation();
  return (
    <Card bordered={false} title={t('segmentBuilder.sampleMembers')} extra={<Typography.Text type="secondary">{t('segmentBuilder.phonesMasked')}</Typography.Text>}>
      <Table rowKey="person_id" size="small" dataSource={samples} pagination={false} data-testid="sample-members"
        columns={[
          { title: 'OneID', dataIndex: 'person_id', render: (v) => <Link to={`/profiles/${v}`}>{v}</Link> },
          { title: t('segmentBuilder.wecomName'), dataIndex: 'name', render: (v) => v || '–' },
          { title: t('segmentBuilder.phone'), dataIndex: 'phone', render: (v) => v || '–' },
          { title: t('common.city'), dataIndex: 'city', render: (v) => v || '–' },
          { title: t('common.orders'), dataIndex: 'orders' },
          { title: t('segmentBuilder.spend'), dataIndex: 'spend', render: fmtYuan },
        ]} />
    </Card>
  );
}

// OverlapCard compares the rule with another saved segment.
export function OverlapCard({ segments, other, setOther, overlap, overlapping }: {
  segments: Segment[]; other: string | undefined; setOther: (id: string | undefined) => void; overlap: Overlap | null; overlapping: boolean;
}) {
  const { t } = useTranslation();
  return (
    <Card bordered={false} title={t('segmentBuilder.overlapAnotherSegment')}>
      <Select style={{ width: '100%' }} allowClear placeholder={t('segmentBuilder.chooseSavedSegmentCompare')} value={other} onChange={setOther}
        options={segments.map((s) => ({ value: s.id, label: s.name }))} data-testid="overlap-select" />
      <Spin spinning={overlapping}>
        {overlap ? (
          <Row gutter={8} style={{ marginTop: 16 }} data-testid="overlap-result">
            <Col span={8}><Statistic title={t('segmentBuilder.only')} value={overlap.only_a} /></Col>
            <Col span={8}><Statistic title={t('segmentBuilder.both')} value={overlap.both} valueStyle={{ color: '#1677ff' }} /></Col>
            <Col span={8}><Statistic title={t('segmentBuilder.onlyOther')} value={overlap.only_b} /></Col>
            <Col span={24} style={{ marginTop: 8 }}>
              <Progress percent={+(overlap.jaccard * 100).toFixed(1)} format={(p) => `Jaccard ${p}%`} />
            </Col>
          </Row>
        ) : (
          <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('segmentBuilder.pickSegmentSeeOverlap')} />
        )}
      </Spin>
    </Card>
  );
}
