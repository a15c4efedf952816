import { useCallback, useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { Button, Card, Form, Select, Space, Table, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { get, LibraryTag, post, Segment, SyncReport, TagSync } from '../../api';
import { useAuth } from '../../auth';
import { ErrorAlert, fmtTime } from '../../components/common';

const syncColor: Record<string, string> = { active: 'processing', stopped: 'default' };

// TagSyncs shows the segments written back to WeCom as corp tags (tag
// syncs) with the pairs each has tagged, lets a marketer start and stop
// them, and lists the corp tag library, whose tags persons carry as
// wecom:<name>.
export default function TagSyncs() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const [syncs, setSyncs] = useState<SyncReport[] | null>(null);
  const [tags, setTags] = useState<LibraryTag[]>([]);
  const [segs, setSegs] = useState<Segment[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [saveErr, setSaveErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm<{ segment_id: string; tag_id: string }>();
  const load = useCallback(() => {
    get<{ items: SyncReport[] }>('/wecom/tag-syncs').then((r) => setSyncs(r.items)).catch(setError);
  }, []);
  useEffect(() => {
    load();
    get<{ items: LibraryTag[] }>('/wecom/tags').then((r) => setTags(r.items)).catch(setError);
    get<{ items: Segment[] }>('/segments').then((r) => setSegs(r.items)).catch(() => {});
  }, [load]);
  const segName = Object.fromEntries(segs.map((s) => [s.id, s.name]));
  const create = async (v: { segment_id: string; tag_id: string }) => {
    setBusy(true);
    setSaveErr(null);
    try {
      await post<TagSync>('/wecom/tag-syncs', v);
      form.resetFields();
      load();
    } catch (e) {
      setSaveErr(e);
    } finally {
      setBusy(false);
    }
  };
  const stop = (id: string) => post<TagSync>(`/wecom/tag-syncs/${id}/stop`).then(load).catch(setError);
  return (
    <>
      {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
      <Card bordered={false} title={t('wecom.tagSyncs')} style={{ marginBottom: 16 }}>
        {can('marketer') && (
          <Form form={form} layout="inline" onFinish={create} style={{ marginBottom: 16 }} data-testid="tag-sync-form">
            <Form.Item name="segment_id" label={t('wecom.segment')} rules={[{ required: true, message: t('wecom.pickSegment') }]}>
              <Select style={{ width: 220 }} showSearch optionFilterProp="label" options={segs.map((s) => ({ value: s.id, label: s.name }))} />
            </Form.Item>
            <Form.Item name="tag_id" label={t('wecom.corpTag')} rules={[{ required: true, message: t('wecom.pickTag') }]}>
              <Select style={{ width: 220 }} showSearch optionFilterProp="label" options={tags.map((g) => ({ value: g.id, label: `${g.group_name} / ${g.name}` }))} />
            </Form.Item>
            <Button type="primary" htmlType="submit" loading={busy} data-testid="create-tag-sync">{t('wecom.startSync')}</Button>
          </Form>
        )}
        {saveErr ? <ErrorAlert error={saveErr} style={{ marginBottom: 16 }} /> : null}
        <Table rowKey={(r) => r.sync.id} loading={!syncs && !error} dataSource={syncs ?? []} data-testid="tag-syncs-table" pagination={false}
          columns={[
            { title: t('wecom.corpTag'), render: (_, r) => r.sync.tag_name },
            { title: t('wecom.segment'), render: (_, r) => <Link to={`/segments/${r.sync.segment_id}`}>{segName[r.sync.segment_id] ?? r.sync.segment_id}</Link> },
            { title: t('common.status'), className: 'nowrap', render: (_, r) => <Tag color={syncColor[r.sync.status]}>{t(`wecom.status.${r.sync.status}` as 'wecom.status.active')}</Tag> },
            { title: t('wecom.tagged'), className: 'nowrap', render: (_, r) => r.counts.tagged.toLocaleString() },
            { title: t('wecom.manual'), className: 'nowrap', render: (_, r) => r.counts.manual.toLocaleString() },
            { title: t('wecom.pending'), className: 'nowrap', render: (_, r) => r.counts.pending.toLocaleString() },
            { title: t('wecom.updated'), className: 'nowrap', render: (_, r) => fmtTime(r.sync.updated_at) },
            {
              title: '', className: 'nowrap',
              render: (_, r) => can('marketer') && r.sync.status === 'active' ? <Button size="small" danger onClick={() => stop(r.sync.id)}>{t('wecom.stop')}</Button> : null,
            },
          ]} />
        <Typography.Paragraph type="secondary" style={{ marginTop: 12, marginBottom: 0 }}>{t('wecom.syncHelp')}</Typography.Paragraph>
      </Card>
      <Card bordered={false} title={t('wecom.library')}>
        <Table rowKey="id" dataSource={tags} data-testid="corp-tags-table" size="small"
          columns={[
            { title: t('wecom.group'), dataIndex: 'group_name' },
            { title: t('wecom.corpTag'), dataIndex: 'name' },
            { title: t('wecom.ruleName'), render: (_, r) => <Space><Typography.Text code>{`tag("wecom:${r.name}")`}</Typography.Text></Space> },
            { title: t('wecom.readAt'), className: 'nowrap', render: (_, r) => fmtTime(r.read_at) },
          ]} />
      </Card>
    </>
  );
}
