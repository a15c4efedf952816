import { useEffect, useMemo, useState } from 'react';
import { Link } from 'react-router-dom';
import { App, Button, Card, Col, DatePicker, Form, Input, InputNumber, Modal, Row, Segmented, Select, Space, Table, Typography } from 'antd';
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import dayjs from 'dayjs';
import { useTranslation } from 'react-i18next';
import { get, post, Segment } from '../../api';
import { useAuth } from '../../auth';
import { useName } from '../../i18n';
import Chart from '../../components/Chart';
import { ErrorAlert, fmtInt, fmtPct } from '../../components/common';
import { duration, Funnel, funnelCSV, FunnelFilter, FunnelResult, FunnelStep, stepRows } from './model';
import { ChartBox, ExportBar, RefreshButton, useAnalysis, useChartRef } from './shared';

const fields: Record<string, string[]> = {
  event: ['source', 'topic', 'keyword', 'completion'],
  order: ['channel', 'city', 'province', 'category', 'sku', 'amount'],
  wecom: ['state', 'staff', 'keyword'],
};
const eventNames = ['video_play', 'video_complete', 'search', 'like', 'share', 'page_view', 'add_to_cart'];
const wecomNames = ['add_external_contact', 'del_follow_user', 'del_external_contact', 'chat'];

export const defaultFunnel: Funnel = {
  steps: [
    { kind: 'event', name: 'video_play' },
    { kind: 'event', name: 'search' },
    { kind: 'order' },
  ],
  window_hours: 168,
  order: 'ordered',
};

// FunnelPage builds a funnel (steps over events, orders and WeCom actions
// with filters, window, order, exclusion, breakdown), shows persons per
// step, drop-off, conversion and time to convert, and saves a step's
// converted or dropped people as a segment.
export default function FunnelPage() {
  const { t } = useTranslation();
  const a = useAnalysis<Funnel, FunnelResult>('/analytics/funnel', defaultFunnel);
  const chart = useChartRef();
  const [save, setSave] = useState<{ step: number; outcome: 'converted' | 'dropped'; value?: string } | null>(null);
  return (
    <Row gutter={[16, 16]}>
      <Col xs={24} xl={9}>
        <FunnelEditor def={a.def} onChange={a.setDef} onRun={() => a.run(a.def)} loading={a.loading} />
      </Col>
      <Col xs={24} xl={15}>
        {a.error ? <ErrorAlert error={a.error} style={{ marginBottom: 16 }} /> : null}
        <Card bordered={false} title={t('analytics.funnel')} loading={a.loading && !a.result}
          extra={a.result && <Space><ExportBar meta={a.result} name="funnel" chart={chart}
            csv={() => funnelCSV(a.result!, [t('analytics.breakdownValue'), t('analytics.step'), t('analytics.stepLabel'), t('analytics.persons'), t('analytics.dropped'), t('analytics.fromPrevious'), t('analytics.fromFirst'), t('analytics.medianSeconds')])} />
            <RefreshButton onClick={a.refresh} loading={a.loading} /></Space>}>
          {a.result ? <FunnelView r={a.result} steps={a.ran?.steps ?? []} chart={chart} onSave={setSave} /> : <Typography.Text type="secondary">{t('analytics.runToSee')}</Typography.Text>}
        </Card>
      </Col>
      {save && a.result && <SaveModal funnel={a.ran ?? a.def} target={save} r={a.result} onClose={() => setSave(null)} />}
    </Row>
  );
}

function FunnelEditor({ def, onChange, onRun, loading }: { def: Funnel; onChange: (f: Funnel) => void; onRun: () => void; loading: boolean }) {
  const { t } = useTranslation();
  const [segs, setSegs] = useState<Segment[]>([]);
  useEffect(() => { get<{ items: Segment[] }>('/segments').then((r) => setSegs(r.items)).catch(() => {}); }, []);
  const setStep = (i: number, s: FunnelStep) => onChange({ ...def, steps: def.steps.map((x, j) => (j === i ? s : x)) });
  const range = def.from && def.to ? [dayjs(def.from), dayjs(def.to)] as [dayjs.Dayjs, dayjs.Dayjs] : null;
  return (
    <Card bordered={false} title={t('analytics.steps')}>
      <Space direction="vertical" style={{ width: '100%' }}>
        {def.steps.map((s, i) => (
          <StepEditor key={i} index={i} step={s} onChange={(x) => setStep(i, x)}
            onRemove={def.steps.length > 2 ? () => onChange({ ...def, steps: def.steps.filter((_, j) => j !== i) }) : undefined} />
        ))}
        <datalist id="analytics-event-names">{eventNames.map((v) => <option key={v} value={v} />)}</datalist>
        <Button icon={<PlusOutlined />} block type="dashed" data-testid="add-step" disabled={def.steps.length >= 8}
          onClick={() => onChange({ ...def, steps: [...def.steps, { kind: 'event', name: '' }] })}>{t('analytics.addStep')}</Button>
        {def.exclusion ? (
          <StepEditor index={-1} step={def.exclusion} onChange={(x) => onChange({ ...def, exclusion: x })} onRemove={() => onChange({ ...def, exclusion: undefined })} />
        ) : (
          <Button size="small" type="link" data-testid="add-exclusion" onClick={() => onChange({ ...def, exclusion: { kind: 'wecom', name: 'del_follow_user' } })}>{t('analytics.addExclusion')}</Button>
        )}
        <Form layout="vertical" size="small">
          <Form.Item label={t('analytics.window')}>
            <InputNumber min={1} max={4320} value={def.window_hours} onChange={(v) => onChange({ ...def, window_hours: v ?? 168 })} addonAfter={t('analytics.hours')} data-testid="window-hours" />
          </Form.Item>
          <Form.Item label={t('analytics.order')}>
            <Segmented value={def.order || 'ordered'} onChange={(v) => onChange({ ...def, order: v as string })}
              options={['ordered', 'strict', 'any'].map((v) => ({ value: v, label: t(`analytics.order_${v}` as 'analytics.order_any') }))} />
          </Form.Item>
          <Form.Item label={t('analytics.firstStepBetween')}>
            <DatePicker.RangePicker value={range} allowClear onChange={(v) => onChange({ ...def, from: v?.[0]?.format('YYYY-MM-DD'), to: v?.[1]?.format('YYYY-MM-DD') })} />
          </Form.Item>
          <Form.Item label={t('analytics.breakdown')}>
            <Select value={def.breakdown || ''} data-testid="breakdown" onChange={(v) => onChange({ ...def, breakdown: v || undefined, segments: v === 'segment' ? def.segments : undefined })}
              options={['', 'channel', 'city', 'city_tier', 'state', 'segment'].map((v) => ({ value: v, label: t(`analytics.by_${v || 'none'}` as 'analytics.by_none') }))} />
          </Form.Item>
          {def.breakdown === 'segment' && (
            <Form.Item label={t('common.segments')}>
              <Select mode="multiple" maxCount={10} value={def.segments ?? []} onChange={(v) => onChange({ ...def, segments: v })}
                options={segs.map((s) => ({ value: s.id, label: s.name }))} />
            </Form.Item>
          )}
        </Form>
        <Button type="primary" block onClick={onRun} loading={loading} data-testid="run-funnel">{t('analytics.run')}</Button>
      </Space>
    </Card>
  );
}

function StepEditor({ index, step, onChange, onRemove }: { index: number; step: FunnelStep; onChange: (s: FunnelStep) => void; onRemove?: () => void }) {
  const { t } = useTranslation();
  const name = useName();
  const id = index < 0 ? 'exclusion' : String(index);
  const filters = step.filters ?? [];
  const setFilter = (j: number, f: FunnelFilter) => onChange({ ...step, filters: filters.map((x, k) => (k === j ? f : x)) });
  return (
    <Card size="small" data-testid={`step-${id}`}
      title={index < 0 ? t('analytics.exclusion') : t('analytics.stepN', { n: index + 1 })}
      extra={onRemove && <Button size="small" type="text" icon={<DeleteOutlined />} onClick={onRemove} aria-label={t('analytics.remove')} />}>
      <Space.Compact style={{ width: '100%' }}>
        <Select style={{ width: 110 }} value={step.kind} data-testid={`step-kind-${id}`}
          onChange={(k) => onChange({ kind: k, name: k === 'wecom' ? 'add_external_contact' : '', filters: [] })}
          options={['event', 'order', 'wecom'].map((k) => ({ value: k, label: name(k === 'wecom' ? 'wecom' : k) }))} />
        {step.kind === 'event' && (
          <Input style={{ flex: 1 }} value={step.name} placeholder={t('analytics.eventName')} data-testid={`step-name-${id}`}
            list="analytics-event-names" onChange={(e) => onChange({ ...step, name: e.target.value.trim() })} />
        )}
        {step.kind === 'wecom' && (
          <Select style={{ flex: 1 }} value={step.name} onChange={(v) => onChange({ ...step, name: v })}
            options={wecomNames.map((v) => ({ value: v, label: t(`analytics.wecom_${v}` as 'analytics.wecom_chat') }))} />
        )}
        {step.kind === 'order' && <Input disabled value={t('analytics.anyValidOrder')} style={{ flex: 1 }} />}
      </Space.Compact>
      {filters.map((f, j) => (
        <Space.Compact key={j} style={{ width: '100%', marginTop: 6 }}>
          <Select style={{ width: 100 }} value={f.field} onChange={(v) => setFilter(j, { ...f, field: v })}
            options={fields[step.kind].map((v) => ({ value: v, label: t(`analytics.field_${v}` as 'analytics.field_city') }))} data-testid={`filter-field-${id}-${j}`} />
          <Select style={{ width: 90 }} value={f.op} onChange={(v) => setFilter(j, { ...f, op: v })}
            options={['in', 'not_in', 'contains', 'gte', 'lte'].map((v) => ({ value: v, label: t(`analytics.op_${v}` as 'analytics.op_in') }))} />
          <Select mode="tags" style={{ flex: 1 }} value={f.values} onChange={(v) => setFilter(j, { ...f, values: v })} tokenSeparators={[',', '，']}
            data-testid={`filter-values-${id}-${j}`} open={false} />
          <Button icon={<DeleteOutlined />} onClick={() => onChange({ ...step, filters: filters.filter((_, k) => k !== j) })} aria-label={t('analytics.remove')} />
        </Space.Compact>
      ))}
      <Button size="small" type="link" style={{ paddingLeft: 0 }} data-testid={`add-filter-${id}`}
        onClick={() => onChange({ ...step, filters: [...filters, { field: fields[step.kind][0], op: 'in', values: [] }] })}>{t('analytics.addFilter')}</Button>
    </Card>
  );
}

// stepLabels are the result's step labels, with the default ones (kind
// and name, as the API writes them) said in the console's language.
function useStepLabels(r: FunnelResult, steps: FunnelStep[]) {
  const name = useName();
  return r.steps.map((label, i) => {
    const s = steps[i];
    return s && label === `${s.kind} ${s.name ?? ''}`.trim() ? [name(s.kind), s.name].filter(Boolean).join(' · ') : label;
  });
}

function FunnelView({ r: raw, steps, chart, onSave }: { r: FunnelResult; steps: FunnelStep[]; chart: React.RefObject<HTMLDivElement>; onSave: (s: { step: number; outcome: 'converted' | 'dropped'; value?: string }) => void }) {
  const { t } = useTranslation();
  const { can } = useAuth();
  const labels = useStepLabels(raw, steps);
  const r = useMemo(() => ({ ...raw, steps: labels }), [raw, labels.join('\u0000')]); // eslint-disable-line react-hooks/exhaustive-deps
  const rows = stepRows(r.steps, r.total);
  const breakdown = r.breakdown ?? [];
  const shown = breakdown.slice(0, 6);
  const option = useMemo(() => ({
    tooltip: { trigger: 'axis' },
    legend: shown.length ? { top: 0 } : undefined,
    grid: { left: 48, right: 16, top: shown.length ? 32 : 16, bottom: 32 },
    xAxis: { type: 'category', data: r.steps },
    yAxis: { type: 'value' },
    series: shown.length
      ? shown.map((b) => ({ type: 'bar', name: b.value || t('analytics.noValue'), data: b.persons }))
      : [{ type: 'bar', name: t('analytics.persons'), data: r.total.persons, label: { show: true, position: 'top', formatter: (p: any) => fmtPct(r.total.persons[0] ? p.value / r.total.persons[0] : 0) } }],
  }), [r, shown, t]);
  const edges = r.bucket_seconds;
  const hist = useMemo(() => ({
    tooltip: { trigger: 'axis' },
    grid: { left: 48, right: 16, top: 16, bottom: 32 },
    xAxis: { type: 'category', data: r.total.time_to_convert.map((_, j) => `${duration(edges[j])}–${duration(edges[j + 1] ?? edges[j])}`) },
    yAxis: { type: 'value', minInterval: 1 },
    series: [{ type: 'bar', name: t('analytics.converted'), data: r.total.time_to_convert }],
  }), [r, edges, t]);
  const saveButtons = (step: number, outcome: 'converted' | 'dropped', n: number, value?: string) =>
    can('marketer') && n > 0 && (
      <Button size="small" type="link" data-testid={`save-${outcome}-${step}${value !== undefined ? '-' + value : ''}`} onClick={() => onSave({ step, outcome, value })}>{fmtInt(n)}</Button>
    );
  return (
    <>
      <ChartBox boxRef={chart}><Chart option={option} height={280} testId="funnel-chart" /></ChartBox>
      <Table size="small" rowKey="step" pagination={false} dataSource={rows} style={{ marginTop: 12 }} data-testid="funnel-table"
        columns={[
          { title: t('analytics.step'), dataIndex: 'label', render: (v, x) => `${x.step}. ${v}` },
          { title: t('analytics.persons'), dataIndex: 'persons', align: 'right', render: (v, x) => <span data-testid={`funnel-count-${x.step}`}>{saveButtons(x.step, 'converted', v) || fmtInt(v)}</span> },
          { title: t('analytics.dropped'), dataIndex: 'dropped', align: 'right', render: (v, x) => (x.step === 1 ? '–' : <span data-testid={`funnel-dropped-${x.step}`}>{saveButtons(x.step, 'dropped', v) || fmtInt(v)}</span>) },
          { title: t('analytics.fromPrevious'), dataIndex: 'fromPrevious', align: 'right', render: (v) => fmtPct(v) },
          { title: t('analytics.fromFirst'), dataIndex: 'fromFirst', align: 'right', render: (v) => fmtPct(v) },
          { title: t('analytics.medianTime'), dataIndex: 'medianSeconds', align: 'right', render: (v, x) => (x.step === 1 ? '–' : duration(v)) },
        ]} />
      {can('marketer') && <Typography.Text type="secondary" style={{ fontSize: 12 }}>{t('analytics.clickToSave')}</Typography.Text>}
      {breakdown.length > 0 && (
        <Table size="small" rowKey="value" pagination={false} dataSource={breakdown} style={{ marginTop: 16 }} data-testid="breakdown-table"
          columns={[{ title: t('analytics.breakdownValue'), dataIndex: 'value', render: (v) => v || t('analytics.noValue') },
            ...r.steps.map((s, i) => ({ title: s, key: String(i), align: 'right' as const, render: (_: unknown, b: FunnelResult['breakdown'][number]) => saveButtons(i + 1, 'converted', b.persons[i], b.value) || fmtInt(b.persons[i]) }))]} />
      )}
      <Typography.Title level={5} style={{ marginTop: 16 }}>{t('analytics.timeToConvert')}</Typography.Title>
      <Chart option={hist} height={200} testId="time-to-convert" />
    </>
  );
}

function SaveModal({ funnel, target, r, onClose }: { funnel: Funnel; target: { step: number; outcome: 'converted' | 'dropped'; value?: string }; r: FunnelResult; onClose: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const label = r.steps[target.step - 1];
  const [name, setName] = useState(`${label} · ${t(`analytics.${target.outcome}`)}${target.value !== undefined ? ' · ' + (target.value || t('analytics.noValue')) : ''}`);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const ok = () => {
    setBusy(true);
    post<Segment>('/analytics/funnel/segment', { funnel, step: target.step, outcome: target.outcome, value: target.value, name })
      .then((s) => {
        message.success(<span data-testid="saved-segment">{t('analytics.savedAs')} <Link to={`/segments/${s.id}`}>{s.name}</Link>（{fmtInt(s.size)}{t('common.people')}）</span>, 8);
        onClose();
      })
      .catch(setError)
      .finally(() => setBusy(false));
  };
  return (
    <Modal open title={t('analytics.saveAsSegment')} onOk={ok} onCancel={onClose} confirmLoading={busy} okButtonProps={{ 'data-testid': 'save-confirm' } as any}>
      <Typography.Paragraph type="secondary">{t(target.outcome === 'dropped' ? 'analytics.saveDroppedHelp' : 'analytics.saveConvertedHelp', { step: target.step, label })}</Typography.Paragraph>
      <Input value={name} onChange={(e) => setName(e.target.value)} maxLength={100} data-testid="segment-name" />
      {error ? <ErrorAlert error={error} style={{ marginTop: 12 }} /> : null}
    </Modal>
  );
}
