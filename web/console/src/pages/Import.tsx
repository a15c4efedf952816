import { useState } from 'react';
import { Alert, Button, Card, Col, Form, Input, Progress, Result, Row, Select, Space, Statistic, Typography, Upload } from 'antd';
import { InboxOutlined } from '@ant-design/icons';
import type { UploadFile } from 'antd';
import { ImportAnswer, upload } from '../api';
import { useTranslation } from 'react-i18next';
import { ErrorAlert, fmtInt, PageTitle, useErrorText } from '../components/common';
import { ImportPreview, MappingTable, PreviewRows, ResetMapping } from './import/PreviewPanel';
import { download, previewSlice, reportCSV } from './import/report';

type Phase = 'idle' | 'uploading' | 'processing' | 'done';
type Settings = { kind: string; key: string; encoding: string; preset: string; sheet?: string; event?: string };

// settingsForm is an import's settings and file as a multipart form: the
// settings as fields before the file, as the server reads them.
function settingsForm(v: Settings, overrides: Record<string, string>, file: Blob, name: string, extra: Record<string, string> = {}): FormData {
  const fd = new FormData();
  const fields: Record<string, string | undefined> = { encoding: v.encoding, preset: v.kind === 'wecom-archive' ? '' : v.preset, sheet: v.sheet, event: v.event, ...extra };
  if (Object.keys(overrides).length) fields.mapping = JSON.stringify(overrides);
  for (const [k, val] of Object.entries(fields)) if (val) fd.append(k, val);
  fd.append('file', file, name);
  return fd;
}

// Import takes a platform export: pick the file, the kind and a write key;
// a preview detects the format, the encoding and the export layout
// (preset) from the header and shows the first rows as they will be
// stored, with each column's field editable; then the import uploads the
// file (the bar follows the upload, which the server reads as it stores)
// and shows the counts and a downloadable report of the refused rows.
export default function Import() {
  const { t, i18n } = useTranslation();
  const [form] = Form.useForm<Settings>();
  const [file, setFile] = useState<UploadFile | null>(null);
  const [preview, setPreview] = useState<ImportPreview | null>(null);
  const [previewing, setPreviewing] = useState(false);
  const [overrides, setOverrides] = useState<Record<string, string>>({});
  const [phase, setPhase] = useState<Phase>('idle');
  const [sent, setSent] = useState({ loaded: 0, total: 0 });
  const [result, setResult] = useState<ImportAnswer | null>(null);
  const [error, setError] = useState<unknown>(null);
  const kind = Form.useWatch('kind', form);

  const runPreview = async (ov = overrides) => {
    const v = form.getFieldsValue();
    const f = file?.originFileObj;
    if (!f || !v.key || v.kind === 'wecom-archive') return;
    setPreviewing(true);
    setError(null);
    try {
      const fd = settingsForm(v, ov, previewSlice(f), f.name, { kind: v.kind, rows: '20' });
      setPreview(await upload('/v1/import/preview', fd, v.key.trim(), () => {}, () => {}));
    } catch (e) {
      setPreview(null);
      setError(e);
    } finally {
      setPreviewing(false);
    }
  };
  const setField = (column: string, field: string) => {
    const ov = { ...overrides, [column]: field };
    setOverrides(ov);
    runPreview(ov);
  };
  const resetSettings = () => {
    setOverrides({});
    setPreview(null);
    setResult(null);
  };

  const start = async () => {
    const v = await form.validateFields();
    const f = file?.originFileObj;
    if (!f) return;
    setError(null);
    setResult(null);
    setPhase('uploading');
    setSent({ loaded: 0, total: f.size });
    try {
      const fd = settingsForm(v, overrides, f, f.name, v.kind === 'wecom-archive' ? {} : { report: 'all' });
      const r = await upload(`/v1/import/${v.kind}`, fd, v.key.trim(), (loaded, total) => setSent({ loaded, total }), () => setPhase('processing'));
      setResult(r);
      setPhase('done');
    } catch (e) {
      setError(e);
      setPhase('idle');
    }
  };

  const busy = phase === 'uploading' || phase === 'processing';
  const pct = sent.total ? Math.floor((sent.loaded / sent.total) * 100) : 0;
  const presetTitle = (name: string) => preview?.presets.find((p) => p.name === name)?.title[i18n.language] ?? name;
  const presetOptions = [
    { value: 'auto', label: t('import.presetAuto') },
    { value: '', label: t('import.presetNone') },
    ...(preview?.presets ?? []).map((p) => ({ value: p.name, label: `${p.title[i18n.language] ?? p.name}${p.fits ? ' ✓' : ''}` })),
  ];
  const presetNotes = preview?.presets.find((p) => p.name === preview.preset)?.notes?.[i18n.language];
  return (
    <>
      <PageTitle title={t('common.dataImport')} sub={t('import.importPlatformExportsEvents')} />
      <Row gutter={16}>
        <Col xs={24} xl={10}>
          <Card bordered={false}>
            <Form form={form} layout="vertical" disabled={busy} initialValues={{ kind: 'orders', encoding: '', preset: 'auto' }}
              onValuesChange={(ch) => { if ('kind' in ch || 'preset' in ch || 'encoding' in ch || 'sheet' in ch) { setOverrides({}); setPreview(null); } }}>
              <Row gutter={12}>
                <Col span={12}><Form.Item name="kind" label={t('import.kind')}><Select options={[
                  { value: 'orders', label: t('common.orders') }, { value: 'events', label: t('import.events') }, { value: 'wecom-archive', label: t('import.wecomChatArchive') }]} /></Form.Item></Col>
                <Col span={12}><Form.Item name="encoding" label={t('import.encoding')}><Select options={[
                  { value: '', label: t('import.encodingAuto') }, { value: 'utf-8', label: 'UTF-8' }, { value: 'gbk', label: 'GBK / GB18030' }]} /></Form.Item></Col>
              </Row>
              {kind !== 'wecom-archive' && (
                <Row gutter={12}>
                  <Col span={12}><Form.Item name="preset" label={t('import.preset')}><Select options={presetOptions} /></Form.Item></Col>
                  <Col span={12}><Form.Item name="sheet" label={t('import.sheet')}><Input placeholder={t('import.sheetFirst')} /></Form.Item></Col>
                </Row>
              )}
              {kind === 'events' && <Form.Item name="event" label={t('import.eventCsvEvents')}><Input placeholder="video_complete" /></Form.Item>}
              <Form.Item name="key" label={t('import.writeKey')} rules={[{ required: true, message: t('import.enterWriteKey') }]} extra={t('import.needsServerKeySource')}>
                <Input.Password placeholder="cdp_wk_…" data-testid="import-key" />
              </Form.Item>
              <Upload.Dragger maxCount={1} beforeUpload={() => false} fileList={file ? [file] : []}
                onChange={(i) => { setFile(i.fileList[0] ?? null); resetSettings(); }}>
                <p className="ant-upload-drag-icon"><InboxOutlined /></p>
                <p className="ant-upload-text">{t('import.clickDropFileHere')}</p>
                <p className="ant-upload-hint">{t('import.upMbPerFile')}</p>
              </Upload.Dragger>
            </Form>
            <Space style={{ marginTop: 16 }}>
              {kind !== 'wecom-archive' && <Button data-testid="import-preview" onClick={() => runPreview()} loading={previewing} disabled={!file || busy}>{t('import.preview')}</Button>}
              <Button type="primary" data-testid="import-start" onClick={start} disabled={!file || busy || (kind !== 'wecom-archive' && !preview)} loading={busy}>{t('import.import')}</Button>
            </Space>
            <Typography.Paragraph type="secondary" style={{ marginTop: 8 }}>
              {kind === 'wecom-archive' ? t('import.archiveNoPreview') : t('import.previewFirst')}
            </Typography.Paragraph>
            {busy && (
              <div style={{ marginTop: 8 }}>
                <Progress percent={pct} status="active" />
                <Typography.Text type="secondary">
                  {phase === 'uploading' ? t('import.processedBytes', { loaded: fmtInt(sent.loaded), total: fmtInt(sent.total) }) : t('import.uploadedServerValidatingStoring')}
                </Typography.Text>
              </div>
            )}
            {error ? <ErrorAlert error={error} style={{ marginTop: 16 }} /> : null}
          </Card>
        </Col>
        <Col xs={24} xl={14}>
          {result ? <ImportResult result={result} /> : preview ? (
            <Card bordered={false} title={t('import.mapping')} extra={<Typography.Text type="secondary">{t('import.nothingWritten')}</Typography.Text>}>
              <Space wrap style={{ marginBottom: 8 }} data-testid="import-detected">
                <Typography.Text>{t('import.detected', { format: preview.format.toUpperCase(), encoding: preview.encoding ?? '—' })}</Typography.Text>
                {preview.bom && <Typography.Text type="secondary">{t('import.bom')}</Typography.Text>}
                {preview.gzip && <Typography.Text type="secondary">{t('import.gzip')}</Typography.Text>}
                {preview.preset ? <Typography.Text strong>{t('import.detectedPreset', { preset: presetTitle(preview.preset) })}</Typography.Text>
                  : <Typography.Text type="warning">{t('import.noPresetFits')}</Typography.Text>}
              </Space>
              {presetNotes && <Alert type="info" showIcon style={{ marginBottom: 8 }} message={presetNotes} />}
              <ResetMapping count={Object.keys(overrides).length} onReset={() => { setOverrides({}); runPreview({}); }} />
              <MappingTable preview={preview} overrides={overrides} onChange={setField} />
              <Typography.Title level={5} style={{ marginTop: 16 }}>{t('import.rowsAsStored', { count: preview.rows.length })}</Typography.Title>
              <PreviewRows preview={preview} />
            </Card>
          ) : (
            <Card bordered={false}>
              <Typography.Paragraph type="secondary">{previewing ? t('import.previewing') : t('import.chooseFileAndKey')}</Typography.Paragraph>
              <Typography.Paragraph type="secondary">{t('import.fileFormatsColumnMappings')}</Typography.Paragraph>
            </Card>
          )}
        </Col>
      </Row>
    </>
  );
}

// ImportResult shows an import's counts, its first refusals and the
// report of every refused row to download.
function ImportResult({ result }: { result: ImportAnswer }) {
  const { t } = useTranslation();
  const errorText = useErrorText();
  const report = result.report ?? [];
  return (
    <Card bordered={false} data-testid="import-result">
      <Result status={result.rejected_count ? 'warning' : 'success'} title={t('import.imported')} style={{ padding: 0 }} />
      <Row gutter={8}>
        <Col span={5}><Statistic title={t('import.lines')} value={result.lines} /></Col>
        <Col span={5} data-testid="import-accepted"><Statistic title={t('import.accepted')} value={result.accepted} valueStyle={{ color: '#389e0d' }} /></Col>
        <Col span={5} data-testid="import-duplicates"><Statistic title={t('import.duplicates')} value={result.duplicates} /></Col>
        <Col span={4}><Statistic title={t('import.rejectedCount')} value={result.rejected_count} valueStyle={result.rejected_count ? { color: '#cf1322' } : undefined} /></Col>
        <Col span={5}><Statistic title={t('import.phonesDroppedStat')} value={result.phones_dropped ?? 0} /></Col>
      </Row>
      {result.rejected_count > 0 && (
        <Alert type="warning" style={{ marginTop: 12 }} showIcon message={t('import.linesRefused', { lines: fmtInt(result.rejected_count) })}
          description={
            <>
              {result.rejected.slice(0, 5).map((r, i) => {
                const { text, detail } = errorText(r);
                return <div key={i}>#{r.index}: {text}{detail && t('common.colon') + detail} {r.field && `(${r.field})`}</div>;
              })}
              {report.length > 0 && (
                <Button size="small" style={{ marginTop: 8 }} onClick={() => download('rejected-rows.csv', reportCSV(t('import.reportHeader'), report))}>
                  {t('import.downloadReport')}
                </Button>
              )}
              {result.report_truncated && <div>{t('import.reportTruncated', { count: fmtInt(report.length) })}</div>}
            </>
          } />
      )}
    </Card>
  );
}
