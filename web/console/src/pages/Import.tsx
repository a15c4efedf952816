import { useState } from 'react';
import { Alert, Button, Card, Col, Form, Input, Progress, Result, Row, Select, Space, Statistic, Typography, Upload } from 'antd';
import { InboxOutlined } from '@ant-design/icons';
import type { UploadFile } from 'antd';
import { ImportAnswer, upload } from '../api';
import { useTranslation } from 'react-i18next';
import { ErrorAlert, fmtInt, PageTitle, useErrorText } from '../components/common';

type Phase = 'idle' | 'uploading' | 'processing' | 'done';

// Import uploads a file to /v1/import/* with a write key. The bar follows
// the browser's upload progress events; once the bytes are sent the page
// shows the server working until it answers with the counts.
export default function Import() {
  const { t } = useTranslation();
  const [form] = Form.useForm();
  const [file, setFile] = useState<UploadFile | null>(null);
  const [phase, setPhase] = useState<Phase>('idle');
  const [sent, setSent] = useState({ loaded: 0, total: 0 });
  const [result, setResult] = useState<ImportAnswer | null>(null);
  const errorText = useErrorText();
  const [error, setError] = useState<unknown>(null);
  const start = async () => {
    const v = await form.validateFields();
    const f = file?.originFileObj;
    if (!f) return;
    setError(null);
    setResult(null);
    setPhase('uploading');
    setSent({ loaded: 0, total: f.size });
    const q = new URLSearchParams({ format: v.format });
    if (v.event) q.set('event', v.event);
    try {
      const r = await upload(`/v1/import/${v.kind}?${q}`, f, v.key.trim(), (loaded, total) => setSent({ loaded, total }), () => setPhase('processing'));
      setResult(r);
      setPhase('done');
    } catch (e) {
      setError(e);
      setPhase('idle');
    }
  };
  const pct = sent.total ? Math.floor((sent.loaded / sent.total) * 100) : 0;
  return (
    <>
      <PageTitle title={t('common.dataImport')} sub={t('import.importPlatformExportsEvents')} />
      <Row gutter={16}>
        <Col xs={24} xl={14}>
          <Card bordered={false}>
            <Form form={form} layout="vertical" initialValues={{ kind: 'orders', format: 'jsonl' }} disabled={phase === 'uploading' || phase === 'processing'}>
              <Row gutter={16}>
                <Col span={8}><Form.Item name="kind" label={t('import.kind')}><Select options={[
                  { value: 'orders', label: t('common.orders') }, { value: 'events', label: t('import.events') }, { value: 'wecom-archive', label: t('import.wecomChatArchive') }]} /></Form.Item></Col>
                <Col span={8}><Form.Item name="format" label={t('import.format')}><Select options={[{ value: 'jsonl', label: 'JSON Lines' }, { value: 'csv', label: 'CSV' }]} /></Form.Item></Col>
                <Col span={8}><Form.Item name="event" label={t('import.eventCsvEvents')}><Input placeholder="video_complete" /></Form.Item></Col>
              </Row>
              <Form.Item name="key" label={t('import.writeKey')} rules={[{ required: true, message: t('import.enterWriteKey') }]}
                extra={t('import.needsServerKeySource')}>
                <Input.Password placeholder="cdp_wk_…" />
              </Form.Item>
              <Upload.Dragger maxCount={1} beforeUpload={() => false} fileList={file ? [file] : []} onChange={(i) => setFile(i.fileList[0] ?? null)}>
                <p className="ant-upload-drag-icon"><InboxOutlined /></p>
                <p className="ant-upload-text">{t('import.clickDropFileHere')}</p>
                <p className="ant-upload-hint">{t('import.upMbPerFile')}</p>
              </Upload.Dragger>
            </Form>
            <Space style={{ marginTop: 16 }}>
              <Button type="primary" onClick={start} disabled={!file} loading={phase === 'uploading' || phase === 'processing'}>{t('import.import')}</Button>
            </Space>
            {phase !== 'idle' && phase !== 'done' && (
              <div style={{ marginTop: 16 }}>
                <Progress percent={pct} status="active" />
                <Typography.Text type="secondary">
                  {phase === 'uploading'
                    ? t('import.uploadingBytes', { loaded: fmtInt(sent.loaded), total: fmtInt(sent.total) })
                    : t('import.uploadedServerValidatingStoring')}
                </Typography.Text>
              </div>
            )}
            {error ? <ErrorAlert error={error} style={{ marginTop: 16 }} /> : null}
          </Card>
        </Col>
        <Col xs={24} xl={10}>
          {result ? (
            <Card bordered={false}>
              <Result status={result.rejected?.length ? 'warning' : 'success'} title={t('import.imported')} style={{ padding: 0 }} />
              <Row gutter={8}>
                <Col span={8}><Statistic title={t('import.lines')} value={result.lines} /></Col>
                <Col span={8}><Statistic title={t('import.accepted')} value={result.accepted} valueStyle={{ color: '#389e0d' }} /></Col>
                <Col span={8}><Statistic title={t('import.duplicates')} value={result.duplicates} /></Col>
              </Row>
              {(result.rejected ?? []).length > 0 && <Alert type="warning" style={{ marginTop: 12 }} showIcon message={t('import.linesRefused', { lines: result.rejected.length })}
                description={result.rejected.slice(0, 5).map((r, i) => {
                  const { text, detail } = errorText(r);
                  return <div key={i}>#{r.index}: {text}{detail && t('common.colon') + detail} {r.field && `(${r.field})`}</div>;
                })} />}
            </Card>
          ) : (
            <Card bordered={false}><Typography.Paragraph type="secondary">{t('import.fileFormatsColumnMappings')}</Typography.Paragraph></Card>
          )}
        </Col>
      </Row>
    </>
  );
}
