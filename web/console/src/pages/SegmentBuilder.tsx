import { useCallback, useEffect, useState } from 'react';
import { useParams } from 'react-router-dom';
import { Button, Col, Form, Row, Space, Spin, Tag, Tooltip } from 'antd';
import { DownloadOutlined, ReloadOutlined, SaveOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { get, Segment } from '../api';
import { useAuth } from '../auth';
import { ErrorAlert, PageTitle } from '../components/common';
import { SegmentFields, useLiveEstimate, useOverlap, useSegmentEditor } from './segmentBuilder/hooks';
import { DetailsCard, Mode, RuleCard } from './segmentBuilder/RuleCards';
import { EstimateCards, OverlapCard, SamplesCard } from './segmentBuilder/EstimateCards';

// SegmentBuilder builds an audience visually or as rule text, with a live
// estimate, sample members and the overlap with another segment, and
// saves, recomputes and exports it (sections in ./segmentBuilder).
export default function SegmentBuilder() {
  const { t } = useTranslation();
  const { id } = useParams();
  const { can } = useAuth();
  const canEdit = can('marketer');
  const [form] = Form.useForm<SegmentFields>();
  const [rule, setRule] = useState('');
  const [mode, setMode] = useState<Mode>('visual');
  const [segments, setSegments] = useState<Segment[]>([]);
  const [other, setOther] = useState<string>();
  const live = useLiveEstimate(rule);
  const { overlap, overlapping } = useOverlap(rule, other, live.problem);
  const textOnly = useCallback(() => setMode('text'), []);
  const ed = useSegmentEditor(id, form, rule, { setRule, textOnly, setProblem: live.setProblem });
  useEffect(() => {
    get<{ items: Segment[] }>('/segments').then((r) => setSegments(r.items)).catch(() => {});
  }, []);
  const others = segments.filter((s) => s.id !== id);

  if (ed.loadErr) return <ErrorAlert error={ed.loadErr} />;
  if (id && !ed.seg) return <Spin style={{ display: 'block', margin: '120px auto' }} />;
  const seg = ed.seg;
  return (
    <>
      <PageTitle
        title={seg ? <>{seg.name} <Tag>{t('segmentBuilder.versionPrefix')}{seg.version}</Tag></> : t('common.newSegment')}
        sub={t('segmentBuilder.buildAudienceVisuallyRule')}
        extra={
          <Space>
            {seg && <Button icon={<DownloadOutlined />} onClick={ed.exportCSV}>{t('segmentBuilder.exportMembers')}</Button>}
            {seg && canEdit && <Button icon={<ReloadOutlined />} loading={ed.recomputing} onClick={ed.recompute} data-testid="recompute">{ed.recomputing ? t('segmentBuilder.recomputing') : t('segmentBuilder.recompute')}</Button>}
            {canEdit ? (
              <Button type="primary" icon={<SaveOutlined />} loading={ed.saving} onClick={ed.save} data-testid="save-segment">{t('segmentBuilder.saveSegment')}</Button>
            ) : (
              <Tooltip title={t('segmentBuilder.readOnlyRoleCannot')}><Button type="primary" disabled icon={<SaveOutlined />}>{t('segmentBuilder.saveSegment')}</Button></Tooltip>
            )}
          </Space>
        }
      />
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={15}>
          <DetailsCard form={form} canEdit={canEdit} saveErr={ed.saveErr} />
          <RuleCard rule={rule} setRule={setRule} mode={mode} setMode={setMode} problem={live.problem} segments={others} canEdit={canEdit} />
        </Col>
        <Col xs={24} xl={9}>
          <EstimateCards rule={rule} estimate={live.estimate} estimating={live.estimating} problem={live.problem} estErr={live.estErr} seg={seg} />
        </Col>
      </Row>
      <Row gutter={[16, 16]} style={{ marginTop: 16 }}>
        <Col xs={24} xl={15}><SamplesCard samples={live.samples} /></Col>
        <Col xs={24} xl={9}><OverlapCard segments={others} other={other} setOther={setOther} overlap={overlap} overlapping={overlapping} /></Col>
      </Row>
    </>
  );
}
