import { useState } from 'react';
import { Alert, Button, Card, Col, Form, Input, Progress, Result, Row, Select, Space, Statistic, Typography, Upload } from 'antd';
import { InboxOutlined } from '@ant-design/icons';
import type { UploadFile } from 'antd';
import { upload } from '../api';
import { useT } from '../i18n';
import { ErrorAlert, fmtInt, PageTitle } from '../components/common';

type Phase = 'idle' | 'uploading' | 'processing' | 'done';

// Import uploads a file to /v1/import/* with a write key. The bar follows
// the browser's upload progress events; once the bytes are sent the page
// shows the server working until it answers with the counts.
export default function Import() {
  const t = useT();
  const [form] = Form.useForm();
  const [file, setFile] = useState<UploadFile | null>(null);
  const [phase, setPhase] = useState<Phase>('idle');
  const [sent, setSent] = useState({ loaded: 0, total: 0 });
  const [result, setResult] = useState<any>(null);
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
      <PageTitle title={t('数据导入', 'Data import')} sub={t('导入平台导出的行为、订单文件或企业微信会话存档', 'Import platform exports: events, orders or the WeCom chat archive')} />
      <Row gutter={16}>
        <Col xs={24} xl={14}>
          <Card bordered={false}>
            <Form form={form} layout="vertical" initialValues={{ kind: 'orders', format: 'jsonl' }} disabled={phase === 'uploading' || phase === 'processing'}>
              <Row gutter={16}>
                <Col span={8}><Form.Item name="kind" label={t('数据类型', 'Kind')}><Select options={[
                  { value: 'orders', label: t('订单', 'Orders') }, { value: 'events', label: t('行为事件', 'Events') }, { value: 'wecom-archive', label: t('企微会话存档', 'WeCom chat archive') }]} /></Form.Item></Col>
                <Col span={8}><Form.Item name="format" label={t('文件格式', 'Format')}><Select options={[{ value: 'jsonl', label: 'JSON Lines' }, { value: 'csv', label: 'CSV' }]} /></Form.Item></Col>
                <Col span={8}><Form.Item name="event" label={t('事件名（CSV 行为）', 'Event (CSV events)')}><Input placeholder="video_complete" /></Form.Item></Col>
              </Row>
              <Form.Item name="key" label={t('接入密钥', 'Write key')} rules={[{ required: true, message: t('请输入接入密钥', 'Enter a write key') }]}
                extra={t('需要服务端密钥；数据来源取自密钥。管理员可在「系统设置 → 数据接入密钥」创建。', 'Needs a server key; the source comes from the key. Admins create keys under Settings → Write keys.')}>
                <Input.Password placeholder="cdp_wk_…" />
              </Form.Item>
              <Upload.Dragger maxCount={1} beforeUpload={() => false} fileList={file ? [file] : []} onChange={(i) => setFile(i.fileList[0] ?? null)}>
                <p className="ant-upload-drag-icon"><InboxOutlined /></p>
                <p className="ant-upload-text">{t('点击或拖拽文件到这里', 'Click or drop a file here')}</p>
                <p className="ant-upload-hint">{t('单个文件不超过 256 MB；重复导入同一文件不会产生重复记录。', 'Up to 256 MB per file; importing a file twice stores it once.')}</p>
              </Upload.Dragger>
            </Form>
            <Space style={{ marginTop: 16 }}>
              <Button type="primary" onClick={start} disabled={!file} loading={phase === 'uploading' || phase === 'processing'}>{t('开始导入', 'Import')}</Button>
            </Space>
            {phase !== 'idle' && phase !== 'done' && (
              <div style={{ marginTop: 16 }}>
                <Progress percent={pct} status="active" />
                <Typography.Text type="secondary">
                  {phase === 'uploading'
                    ? t(`正在上传 ${fmtInt(sent.loaded)} / ${fmtInt(sent.total)} 字节`, `Uploading ${fmtInt(sent.loaded)} / ${fmtInt(sent.total)} bytes`)
                    : t('上传完成，服务器正在校验并写入…', 'Uploaded; the server is validating and storing…')}
                </Typography.Text>
              </div>
            )}
            {error ? <ErrorAlert error={error} style={{ marginTop: 16 }} /> : null}
          </Card>
        </Col>
        <Col xs={24} xl={10}>
          {result ? (
            <Card bordered={false}>
              <Result status={result.rejected?.length ? 'warning' : 'success'} title={t('导入完成', 'Imported')} style={{ padding: 0 }} />
              <Row gutter={8}>
                <Col span={8}><Statistic title={t('行数', 'Lines')} value={result.lines} /></Col>
                <Col span={8}><Statistic title={t('已接收', 'Accepted')} value={result.accepted} valueStyle={{ color: '#389e0d' }} /></Col>
                <Col span={8}><Statistic title={t('重复', 'Duplicates')} value={result.duplicates} /></Col>
              </Row>
              {(result.rejected ?? []).length > 0 && <Alert type="warning" style={{ marginTop: 12 }} showIcon message={t(`${result.rejected.length} 行被拒绝`, `${result.rejected.length} lines refused`)}
                description={(result.rejected ?? []).slice(0, 5).map((r: any, i: number) => <div key={i}>#{r.index ?? r.line}: {r.message} {r.field && `(${r.field})`}</div>)} />}
            </Card>
          ) : (
            <Card bordered={false}><Typography.Paragraph type="secondary">{t('文件格式与字段映射见 docs/ingest.md。', 'File formats and column mappings: docs/ingest.md.')}</Typography.Paragraph></Card>
          )}
        </Col>
      </Row>
    </>
  );
}
