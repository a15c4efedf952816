import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { Card, Col, Descriptions, Row, Skeleton, Space, Statistic, Table, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { get, Journey, JourneyNode, JourneyResults, JourneyVersion } from '../api';
import { ErrorAlert, fmtInt, fmtPct, fmtTime, PageTitle } from '../components/common';
import { journeyStatusColor } from './Journeys';

// edges are a node's ways out, labelled as the definition names them.
function edges(n: JourneyNode): [string, string][] {
  switch (n.type) {
    case 'wait_for': return [['happened', n.wait_for?.happened ?? ''], ['timed_out', n.wait_for?.timed_out ?? '']];
    case 'branch': return [['yes', n.branch?.yes ?? ''], ['no', n.branch?.no ?? '']];
    case 'split': return (n.split?.arms ?? []).map((a) => [`${a.name} ${a.percent}%`, a.next]);
    case 'exit': return [];
    default: return [['next', n.next ?? '']];
  }
}

// JourneyDetail shows a journey read-only: its steps with their live
// counts, the holdout comparison and the versions. It refreshes every 10 s
// while the journey runs.
export default function JourneyDetail() {
  const { t } = useTranslation();
  const { id } = useParams();
  const [j, setJ] = useState<Journey | null>(null);
  const [r, setR] = useState<JourneyResults | null>(null);
  const [versions, setVersions] = useState<JourneyVersion[]>([]);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const load = () => {
      get<Journey>(`/journeys/${id}`).then(setJ).catch(setError);
      get<JourneyResults>(`/journeys/${id}/results`).then(setR).catch(setError);
    };
    load();
    get<{ items: JourneyVersion[] }>(`/journeys/${id}/versions`).then((v) => setVersions(v.items)).catch(setError);
    const timer = setInterval(load, 10_000);
    return () => clearInterval(timer);
  }, [id]);
  if (error) return <ErrorAlert error={error} />;
  if (!j || !r) return <Skeleton active paragraph={{ rows: 10 }} />;
  const h = r.holdout;
  const conv = h.conversion;
  return (
    <>
      <PageTitle title={<Space>{j.name}<Tag color={journeyStatusColor[j.status]} data-testid="journey-status">{t(`journeys.status.${j.status}` as 'journeys.status.draft')}</Tag></Space>}
        sub={`${t('journeys.version')} ${j.version} · ${t(`journeys.entryType.${j.entry.type}` as 'journeys.entryType.segment')}`}
        extra={<Space><Link to={`/journeys/${j.id}/edit`}>{t('journeyEditor.canvas')}</Link><Link to="/journeys">{t('journeys.back')}</Link></Space>} />
      <Row gutter={[16, 16]}>
        <Col xs={12} xl={6}><Card bordered={false}><Statistic title={t('journeys.entered')} value={fmtInt(r.entered)} /></Card></Col>
        <Col xs={12} xl={6}><Card bordered={false}><Statistic title={t('journeys.active')} value={fmtInt(r.active)} /></Card></Col>
        <Col xs={12} xl={6}><Card bordered={false}><Statistic title={t('journeys.treatmentVsHoldout')} value={`${fmtPct(h.treatment.rate, 2)} / ${fmtPct(h.holdout.rate, 2)}`} />
          <Typography.Text type="secondary">{fmtInt(h.treatment.persons)} / {fmtInt(h.holdout.persons)} {t('common.people')}</Typography.Text></Card></Col>
        <Col xs={12} xl={6}><Card bordered={false}><Statistic title={t('journeys.uplift')} value={conv ? fmtPct(conv.estimate, 2) : '–'} />
          <Typography.Text type="secondary" data-testid="journey-significance">{conv ? `${t('journeys.sequence')} [${fmtPct(conv.cs95[0], 2)}, ${fmtPct(conv.cs95[1], 2)}] · ${conv.significant ? t('journeys.significant') : t('journeys.notSignificant')}` : t('journeys.tooFew')}</Typography.Text></Card></Col>
      </Row>
      <Card bordered={false} title={t('journeys.steps')} style={{ marginTop: 16 }}>
        <Table rowKey="id" pagination={false} dataSource={j.nodes} data-testid="journey-nodes"
          columns={[
            { title: t('journeys.node'), dataIndex: 'id', render: (v) => <Typography.Text code>{v}</Typography.Text> },
            { title: t('journeys.type'), className: 'nowrap', dataIndex: 'type', render: (v) => <Tag>{t(`journeys.nodeType.${v}` as 'journeys.nodeType.send')}</Tag> },
            { title: t('journeys.next'), render: (_, n) => edges(n).map(([k, v]) => <div key={k}><Typography.Text type="secondary">{k} → </Typography.Text><Typography.Text code>{v}</Typography.Text></div>) },
            { title: t('journeys.here'), className: 'nowrap', render: (_, n) => fmtInt(r.nodes[n.id]?.here) },
            { title: t('journeys.waiting'), className: 'nowrap', render: (_, n) => fmtInt(r.nodes[n.id]?.waiting) },
            { title: t('journeys.outcomes'), render: (_, n) => Object.entries({ ...(r.nodes[n.id]?.outcomes ?? {}), ...(r.nodes[n.id]?.sends ?? {}) })
              .map(([k, v]) => <Tag key={k} bordered={false}>{k} {fmtInt(v)}</Tag>) },
          ]} />
      </Card>
      <Row gutter={[16, 16]} style={{ marginTop: 16 }}>
        <Col xs={24} xl={12}><Card bordered={false} title={t('journeys.exits')}>
          <Descriptions column={1} size="small">
            {Object.entries(r.exited).map(([k, v]) => <Descriptions.Item key={k} label={k}>{fmtInt(v)}</Descriptions.Item>)}
          </Descriptions>
        </Card></Col>
        <Col xs={24} xl={12}><Card bordered={false} title={t('journeys.versions')}>
          <Descriptions column={1} size="small">
            {versions.map((v) => <Descriptions.Item key={v.version} label={`${t('journeys.version')} ${v.version}`}>{fmtTime(v.created_at)} · {v.created_by}</Descriptions.Item>)}
          </Descriptions>
        </Card></Col>
      </Row>
    </>
  );
}
