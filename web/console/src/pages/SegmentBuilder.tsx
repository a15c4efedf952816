import { useEffect, useMemo, useRef, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { App, Alert, Badge, Button, Card, Col, Descriptions, Empty, Form, Input, Progress, Row, Select, Space, Spin, Statistic, Switch, Table, Tabs, Tag, Tooltip, Typography } from 'antd';
import { DownloadOutlined, ReloadOutlined, SaveOutlined, ThunderboltOutlined } from '@ant-design/icons';
import { api, ApiError, Estimate, getToken, get, Overlap, PersonSummary, post, Segment } from '../api';
import { useAuth } from '../auth';
import { useTranslation } from 'react-i18next';
import { useName } from '../i18n';
import Chart from '../components/Chart';
import RuleEditor, { RuleProblem } from '../components/RuleEditor';
import VisualBuilder from '../components/VisualBuilder';
import { ErrorAlert, fmtInt, fmtPct, fmtTime, fmtYuan, PageTitle } from '../components/common';
import { generate, Groups, parse } from '../rule';


export default function SegmentBuilder() {
  const { t } = useTranslation();
  const name = useName();
  const { id } = useParams();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const { can } = useAuth();
  const canEdit = can('marketer');
  const [seg, setSeg] = useState<Segment | null>(null);
  const [loadErr, setLoadErr] = useState<unknown>(null);
  const [rule, setRule] = useState('');
  const [form] = Form.useForm();
  const [segments, setSegments] = useState<Segment[]>([]);
  // The estimate and the rule it counts, kept together so the page never
  // shows one rule's count beside another rule.
  const [estimate, setEstimate] = useState<{ rule: string; e: Estimate } | null>(null);
  const est = estimate?.e ?? null;
  const [estimating, setEstimating] = useState(false);
  const [problem, setProblem] = useState<RuleProblem | null>(null);
  const [estErr, setEstErr] = useState<unknown>(null);
  const [samples, setSamples] = useState<PersonSummary[]>([]);
  const [saving, setSaving] = useState(false);
  const [saveErr, setSaveErr] = useState<unknown>(null);
  const [recomputing, setRecomputing] = useState(false);
  const [other, setOther] = useState<string>();
  const [overlap, setOverlap] = useState<Overlap | null>(null);
  const [overlapping, setOverlapping] = useState(false);
  const [mode, setMode] = useState<'visual' | 'text'>('visual');

  useEffect(() => {
    get<{ items: Segment[] }>('/segments').then((r) => setSegments(r.items)).catch(() => {});
  }, []);
  useEffect(() => {
    if (!id) return;
    get<Segment>('/segments/' + id)
      .then((s) => {
        setSeg(s);
        setRule(s.rule);
        form.setFieldsValue({ name: s.name, description: s.description, live: s.live });
        if (!parse(s.rule)) setMode('text');
      })
      .catch(setLoadErr);
  }, [id, form]);

  // Live estimate: debounced while typing; a newer rule cancels the
  // request in flight, so the count shown is always the current rule's.
  const seq = useRef(0);
  useEffect(() => {
    if (!rule.trim()) {
      setEstimate(null);
      setProblem(null);
      setEstErr(null);
      return;
    }
    const my = ++seq.current;
    const ac = new AbortController();
    const timer = setTimeout(async () => {
      setEstimating(true);
      try {
        const e = await post<Estimate>('/segments/estimate', { rule, sample: 10 }, ac.signal);
        if (my !== seq.current) return;
        setEstimate({ rule, e });
        setProblem(null);
        setEstErr(null);
        if (e.sample.length) post<{ items: PersonSummary[] }>('/profiles/summaries', { ids: e.sample }).then((r) => my === seq.current && setSamples(r.items)).catch(() => setSamples([]));
        else setSamples([]);
      } catch (err: any) {
        if (err?.name === 'AbortError' || my !== seq.current) return;
        const ae = err as ApiError;
        if (ae.line) {
          setProblem({ line: ae.line, column: ae.column || 1, message: ae.message });
          setEstErr(null);
        } else {
          setProblem(null);
          setEstErr(err);
        }
      } finally {
        if (my === seq.current) setEstimating(false);
      }
    }, 400);
    return () => {
      clearTimeout(timer);
      ac.abort();
    };
  }, [rule]);

  const groups = useMemo(() => parse(rule), [rule]);
  const setGroups = (g: Groups) => setRule(generate(g));

  const save = async () => {
    const v = await form.validateFields();
    setSaving(true);
    setSaveErr(null);
    try {
      const body = { name: v.name, description: v.description || '', rule, live: v.live };
      const saved = id ? await api<Segment>('PUT', '/segments/' + id, body) : await post<Segment>('/segments', body);
      message.success(t('segmentBuilder.savedPeople', { name: saved.name, size: fmtInt(saved.size) }));
      setSeg(saved);
      if (!id) navigate('/segments/' + saved.id, { replace: true });
    } catch (e: any) {
      if (e.line) setProblem({ line: e.line, column: e.column || 1, message: e.message });
      setSaveErr(e);
    } finally {
      setSaving(false);
    }
  };
  const recompute = async () => {
    setRecomputing(true);
    try {
      const s = await post<Segment>(`/segments/${id}/recompute`);
      setSeg(s);
      message.success(t('segmentBuilder.recomputedPeople', { size: fmtInt(s.size) }));
    } catch (e) {
      setSaveErr(e);
    } finally {
      setRecomputing(false);
    }
  };
  const exportCSV = async () => {
    const res = await fetch(`/api/v1/segments/${id}/members?format=csv`, { headers: { Authorization: 'Bearer ' + getToken() } });
    const blob = await res.blob();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${id}.csv`;
    a.click();
    URL.revokeObjectURL(a.href);
  };
  useEffect(() => {
    if (!other || !rule.trim() || problem) {
      setOverlap(null);
      return;
    }
    const ac = new AbortController();
    setOverlapping(true);
    post<Overlap>('/segments/overlap', { a: rule, b: other }, ac.signal)
      .then(setOverlap)
      .catch(() => setOverlap(null))
      .finally(() => setOverlapping(false));
    return () => ac.abort();
  }, [other, rule, problem]);

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

  if (loadErr) return <ErrorAlert error={loadErr} />;
  if (id && !seg) return <Spin style={{ display: 'block', margin: '120px auto' }} />;
  const share = est && est.universe ? est.count / est.universe : 0;
  return (
    <>
      <PageTitle
        title={seg ? <>{seg.name} <Tag>{t('segmentBuilder.versionPrefix')}{seg.version}</Tag></> : t('common.newSegment')}
        sub={t('segmentBuilder.buildAudienceVisuallyRule')}
        extra={
          <Space>
            {seg && <Button icon={<DownloadOutlined />} onClick={exportCSV}>{t('segmentBuilder.exportMembers')}</Button>}
            {seg && canEdit && <Button icon={<ReloadOutlined />} loading={recomputing} onClick={recompute} data-testid="recompute">{recomputing ? t('segmentBuilder.recomputing') : t('segmentBuilder.recompute')}</Button>}
            {canEdit ? (
              <Button type="primary" icon={<SaveOutlined />} loading={saving} onClick={save} data-testid="save-segment">{t('segmentBuilder.saveSegment')}</Button>
            ) : (
              <Tooltip title={t('segmentBuilder.readOnlyRoleCannot')}><Button type="primary" disabled icon={<SaveOutlined />}>{t('segmentBuilder.saveSegment')}</Button></Tooltip>
            )}
          </Space>
        }
      />
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={15}>
          <Card bordered={false} style={{ marginBottom: 16 }}>
            <Form form={form} layout="vertical" initialValues={{ live: true }} disabled={!canEdit}>
              <Row gutter={16}>
                <Col span={14}>
                  <Form.Item name="name" label={t('common.name')} rules={[{ required: true, message: t('segmentBuilder.nameRequired') }, { max: 100 }]}>
                    <Input placeholder={t('segmentBuilder.eGHighPotential')} data-testid="segment-name" />
                  </Form.Item>
                </Col>
                <Col span={10}>
                  <Form.Item name="live" label={t('segmentBuilder.live')} valuePropName="checked" tooltip={t('segmentBuilder.membersFollowArrivingRecords')}>
                    <Switch />
                  </Form.Item>
                </Col>
              </Row>
              <Form.Item name="description" label={t('segmentBuilder.description')} style={{ marginBottom: 0 }}>
                <Input.TextArea autoSize={{ minRows: 1, maxRows: 3 }} placeholder={t('segmentBuilder.whatAudienceMeansColleagues')} />
              </Form.Item>
            </Form>
            {saveErr ? <ErrorAlert error={saveErr} style={{ marginTop: 16 }} /> : null}
          </Card>
          <Card bordered={false} bodyStyle={{ paddingTop: 8 }}>
            <Tabs activeKey={mode} onChange={(k) => setMode(k as any)} items={[
              { key: 'visual', label: <span data-testid="tab-visual">{t('segmentBuilder.visualBuilder')}</span>, children: groups ? (
                <VisualBuilder groups={groups} onChange={setGroups} segments={segments.filter((s) => s.id !== id)} disabled={!canEdit} />
              ) : (
                <Alert type="info" showIcon message={t('segmentBuilder.ruleUsesSyntaxVisual')} />
              ) },
              { key: 'text', label: <span data-testid="tab-text">{t('segmentBuilder.ruleText')}</span>, children: (
                <>
                  <RuleEditor value={rule} onChange={setRule} problem={problem} readOnly={!canEdit} />
                  <Typography.Paragraph type="secondary" style={{ marginTop: 8, marginBottom: 0, fontSize: 12 }}>
                    {t('segmentBuilder.functionsDidNeverBought')}
                  </Typography.Paragraph>
                </>
              ) },
            ]} />
            {mode === 'visual' && problem && (
              <Alert type="error" showIcon style={{ marginTop: 12 }} message={`${t('segmentBuilder.ruleProblem')} (${problem.line}:${problem.column})：${problem.message}`}
                action={<Button size="small" onClick={() => setMode('text')}>{t('segmentBuilder.showRuleText')}</Button>} />
            )}
            {mode === 'visual' && rule && (
              <Typography.Paragraph code copyable style={{ marginTop: 12, marginBottom: 0, fontSize: 12 }} data-testid="rule-preview">{rule}</Typography.Paragraph>
            )}
          </Card>
        </Col>
        <Col xs={24} xl={9}>
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
        </Col>
      </Row>
      <Row gutter={[16, 16]} style={{ marginTop: 16 }}>
        <Col xs={24} xl={15}>
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
        </Col>
        <Col xs={24} xl={9}>
          <Card bordered={false} title={t('segmentBuilder.overlapAnotherSegment')}>
            <Select style={{ width: '100%' }} allowClear placeholder={t('segmentBuilder.chooseSavedSegmentCompare')} value={other} onChange={setOther}
              options={segments.filter((s) => s.id !== id).map((s) => ({ value: s.id, label: s.name }))} data-testid="overlap-select" />
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
        </Col>
      </Row>
    </>
  );
}
