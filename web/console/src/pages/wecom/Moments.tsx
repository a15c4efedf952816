import { useCallback, useEffect, useState } from 'react';
import { Button, Card, Form, Input, Radio, Select, Table, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { get, LibraryTag, post } from '../../api';
import type { components } from '../../api.gen';
import { useAuth } from '../../auth';
import { ErrorAlert, fmtInt, fmtTime } from '../../components/common';

type Moment = components['schemas']['Moment'];
type MomentInput = components['schemas']['MomentInput'];
type MomentResult = components['schemas']['MomentResult'];

const statusColor: Record<string, string> = {
  creating: 'processing', queued: 'warning', submitted: 'processing', created: 'success', failed: 'error',
};

interface FormValues {
  text?: string;
  tag_ids?: string[];
  senders?: string[];
  kind: 'none' | 'images' | 'video' | 'link';
  images?: string[];
  video?: string;
  link_title?: string;
  link_url?: string;
  link_media_id?: string;
}

function toInput(v: FormValues): MomentInput {
  const attachments: MomentInput['attachments'] = [];
  if (v.kind === 'images') (v.images ?? []).forEach((id) => attachments.push({ image_media_id: id }));
  if (v.kind === 'video' && v.video) attachments.push({ video_media_id: v.video });
  if (v.kind === 'link') attachments.push({ link: { title: v.link_title ?? '', url: v.link_url ?? '', media_id: v.link_media_id ?? '' } });
  return { text: v.text ?? '', tag_ids: v.tag_ids ?? [], senders: v.senders ?? [], attachments };
}

// Moments lists the customer-moment tasks (客户朋友圈) with who published
// each and how many customers it reached, and lets a marketer post one to
// the customers carrying chosen corp tags.
export default function Moments() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const [list, setList] = useState<Moment[] | null>(null);
  const [tags, setTags] = useState<LibraryTag[]>([]);
  const [results, setResults] = useState<Record<string, MomentResult[]>>({});
  const [error, setError] = useState<unknown>(null);
  const [saveErr, setSaveErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm<FormValues>();
  const kind = Form.useWatch('kind', form);
  const load = useCallback(() => {
    get<{ items: Moment[] }>('/wecom/moments').then((r) => setList(r.items)).catch(setError);
  }, []);
  useEffect(() => {
    load();
    get<{ items: LibraryTag[] }>('/wecom/tags').then((r) => setTags(r.items)).catch(setError);
  }, [load]);
  const tagName = Object.fromEntries(tags.map((g) => [g.id, g.name]));
  const create = async (v: FormValues) => {
    setBusy(true);
    setSaveErr(null);
    try {
      await post<Moment>('/wecom/moments', toInput(v));
      form.resetFields();
      load();
    } catch (e) {
      setSaveErr(e);
    } finally {
      setBusy(false);
    }
  };
  const expand = (open: boolean, m: Moment) => {
    if (open && !results[m.id]) {
      get<Moment>(`/wecom/moments/${m.id}`).then((r) => setResults((x) => ({ ...x, [m.id]: r.results ?? [] }))).catch(setError);
    }
  };
  return (
    <Card bordered={false} title={t('moments.title')} data-testid="moments-card">
      {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
      {can('marketer') && (
        <Form form={form} layout="vertical" onFinish={create} initialValues={{ kind: 'none' }} data-testid="moment-form" style={{ maxWidth: 720, marginBottom: 16 }}>
          <Form.Item name="text" label={t('moments.text')}>
            <Input.TextArea rows={3} maxLength={2000} showCount />
          </Form.Item>
          <Form.Item name="tag_ids" label={t('moments.tags')} extra={t('moments.tagsHelp')}>
            <Select mode="multiple" showSearch optionFilterProp="label" options={tags.map((g) => ({ value: g.id, label: `${g.group_name} / ${g.name}` }))} />
          </Form.Item>
          <Form.Item name="senders" label={t('moments.senders')} extra={t('moments.sendersHelp')}>
            <Select mode="tags" tokenSeparators={[',', ' ']} open={false} />
          </Form.Item>
          <Form.Item name="kind" label={t('moments.attachment')}>
            <Radio.Group options={(['none', 'images', 'video', 'link'] as const).map((k) => ({ value: k, label: t(`moments.kind.${k}`) }))} />
          </Form.Item>
          {kind === 'images' && (
            <Form.Item name="images" label={t('moments.imageIds')} extra={t('moments.mediaHelp')}>
              <Select mode="tags" tokenSeparators={[',', ' ']} open={false} maxCount={9} />
            </Form.Item>
          )}
          {kind === 'video' && (
            <Form.Item name="video" label={t('moments.videoId')} extra={t('moments.mediaHelp')}><Input /></Form.Item>
          )}
          {kind === 'link' && (
            <>
              <Form.Item name="link_title" label={t('moments.linkTitle')}><Input maxLength={64} /></Form.Item>
              <Form.Item name="link_url" label={t('moments.linkUrl')}><Input placeholder="https://" /></Form.Item>
              <Form.Item name="link_media_id" label={t('moments.linkCover')} extra={t('moments.mediaHelp')}><Input /></Form.Item>
            </>
          )}
          <Button type="primary" htmlType="submit" loading={busy} data-testid="create-moment">{t('moments.create')}</Button>
        </Form>
      )}
      {saveErr ? <ErrorAlert error={saveErr} style={{ marginBottom: 16 }} /> : null}
      <Table rowKey="id" loading={!list && !error} dataSource={list ?? []} data-testid="moments-table" pagination={{ pageSize: 20 }}
        expandable={{
          onExpand: expand,
          expandedRowRender: (m) => (
            <Table rowKey="sender" size="small" pagination={false} dataSource={results[m.id] ?? []} loading={!results[m.id]}
              columns={[
                { title: t('moments.sender'), dataIndex: 'sender' },
                { title: t('moments.publishedCol'), render: (_, r) => (r.published ? <Tag color="success">{t('moments.yes')}</Tag> : <Tag>{t('moments.no')}</Tag>) },
                { title: t('moments.visible'), render: (_, r) => fmtInt(r.visible) },
                { title: t('moments.reached'), render: (_, r) => fmtInt(r.reached) },
                { title: t('moments.readAt'), className: 'nowrap', render: (_, r) => fmtTime(r.read_at) },
              ]} />
          ),
        }}
        columns={[
          { title: t('moments.createdAt'), className: 'nowrap', render: (_, m) => fmtTime(m.created_at) },
          { title: t('moments.text'), render: (_, m) => <Typography.Text ellipsis style={{ maxWidth: 280 }}>{m.text}</Typography.Text> },
          { title: t('moments.tags'), render: (_, m) => (m.tag_ids ?? []).map((id) => <Tag key={id}>{tagName[id] ?? id}</Tag>) },
          {
            title: t('common.status'), className: 'nowrap',
            render: (_, m) => <Tag color={statusColor[m.status]} title={m.error}>{t(`moments.status.${m.status}` as 'moments.status.created')}</Tag>,
          },
          { title: t('moments.published'), className: 'nowrap', render: (_, m) => fmtInt(m.published) },
          { title: t('moments.visible'), className: 'nowrap', render: (_, m) => fmtInt(m.visible) },
          { title: t('moments.reached'), className: 'nowrap', render: (_, m) => fmtInt(m.reached) },
        ]} />
      <Typography.Paragraph type="secondary" style={{ marginTop: 12, marginBottom: 0 }}>{t('moments.help')}</Typography.Paragraph>
    </Card>
  );
}
