import { useCallback, useEffect, useState } from 'react';
import { Button, Card, Checkbox, Form, Input, Modal, Popconfirm, Select, Space, Table, Tag, Typography } from 'antd';
import { PlusOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { api, ContactWay, get, LibraryTag, Welcome, WelcomeEntry } from '../../api';
import { useAuth } from '../../auth';
import { ErrorAlert, fmtTime } from '../../components/common';
import { maxWelcomeBytes, utf8Bytes, welcomeForm, WelcomeForm, welcomeRequest } from './model';

const journalColor: Record<string, string> = {
  pending: 'processing', sending: 'processing', sent: 'success', used: 'default', expired: 'warning',
  unconfirmed: 'warning', failed: 'error', skipped: 'default', no_code: 'default',
};

// Welcomes lists the welcome message of each State (sent with the
// WelcomeCode of every customer the State adds, with its automatic
// tags); a marketer sets, edits and switches them off. Below, the send
// journal: each WelcomeCode and what became of it.
export default function Welcomes() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const [list, setList] = useState<Welcome[] | null>(null);
  const [ways, setWays] = useState<ContactWay[]>([]);
  const [tags, setTags] = useState<LibraryTag[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState<{ state?: string; welcome?: Welcome } | null>(null);
  const load = useCallback(() => {
    get<{ items: Welcome[] }>('/wecom/welcomes').then((r) => setList(r.items)).catch(setError);
  }, []);
  useEffect(() => {
    load();
    get<{ items: ContactWay[] }>('/wecom/contact-ways').then((r) => setWays(r.items)).catch(setError);
    get<{ items: LibraryTag[] }>('/wecom/tags').then((r) => setTags(r.items)).catch(setError);
  }, [load]);
  const tagName = Object.fromEntries(tags.map((g) => [g.id, g.name]));
  const off = (state: string) => api('DELETE', `/wecom/welcomes/${encodeURIComponent(state)}`).then(load).catch(setError);
  return (
    <>
      <Card bordered={false} title={t('wecom.welcome.title')} style={{ marginBottom: 16 }}
        extra={can('marketer') && <Button type="primary" icon={<PlusOutlined />} onClick={() => setEditing({})} data-testid="new-welcome">{t('wecom.welcome.new')}</Button>}>
        {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
        <Table rowKey="state" loading={!list && !error} dataSource={list ?? []} data-testid="welcomes-table" pagination={false}
          columns={[
            { title: 'State', dataIndex: 'state', className: 'nowrap', render: (s: string) => <Typography.Text code>{s}</Typography.Text> },
            { title: t('wecom.welcome.text'), render: (_, w) => <Typography.Paragraph ellipsis={{ rows: 2 }} style={{ marginBottom: 0 }}>{w.text}</Typography.Paragraph> },
            { title: t('wecom.welcome.attachments'), render: (_, w) => <Space wrap>{w.link && <Tag>{t('wecom.welcome.link')}{t('common.colon')}{w.link.title}</Tag>}{w.miniprogram && <Tag>{t('wecom.welcome.miniprogram')}{t('common.colon')}{w.miniprogram.title}</Tag>}</Space> },
            { title: t('wecom.qr.autoTags'), render: (_, w) => w.tag_ids.map((id) => <Tag key={id}>{tagName[id] ?? id}</Tag>) },
            { title: t('wecom.updated'), className: 'nowrap', render: (_, w) => fmtTime(w.updated_at) },
            {
              title: '', className: 'nowrap',
              render: (_, w) => can('marketer') && (
                <Space>
                  <Button size="small" onClick={() => setEditing({ state: w.state, welcome: w })}>{t('wecom.edit')}</Button>
                  <Popconfirm title={t('wecom.welcome.confirmOff')} onConfirm={() => off(w.state)}>
                    <Button size="small" danger>{t('wecom.welcome.off')}</Button>
                  </Popconfirm>
                </Space>
              ),
            },
          ]} />
        <Typography.Paragraph type="secondary" style={{ marginTop: 12, marginBottom: 0 }}>{t('wecom.welcome.help')}</Typography.Paragraph>
      </Card>
      <Journal />
      {editing && <WelcomeModal state={editing.state} welcome={editing.welcome} ways={ways} tags={tags} onClose={(saved) => { setEditing(null); if (saved) load(); }} />}
    </>
  );
}

// Journal is the welcome journal, newest first: all entries, or only
// those still to be sent or tagged.
function Journal() {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const [items, setItems] = useState<WelcomeEntry[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setItems(null);
    get<{ items: WelcomeEntry[] }>('/wecom/welcome-journal?limit=500' + (open ? '&open=true' : '')).then((r) => setItems(r.items)).catch(setError);
  }, [open]);
  return (
    <Card bordered={false} title={t('wecom.welcome.journal')} extra={<Checkbox checked={open} onChange={(e) => setOpen(e.target.checked)}>{t('wecom.welcome.onlyOpen')}</Checkbox>}>
      {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
      <Table rowKey="welcome_code" loading={!items && !error} dataSource={items ?? []} size="small" data-testid="welcome-journal"
        columns={[
          { title: t('wecom.welcome.receivedAt'), className: 'nowrap', render: (_, e) => fmtTime(e.received_at) },
          { title: 'State', dataIndex: 'state', render: (s: string) => <Typography.Text code>{s}</Typography.Text> },
          { title: t('wecom.staff'), dataIndex: 'staff_userid' },
          { title: t('wecom.customer'), dataIndex: 'external_userid' },
          { title: t('common.status'), className: 'nowrap', render: (_, e) => <Tag color={journalColor[e.status]}>{t(`wecom.welcome.status.${e.status}` as 'wecom.welcome.status.sent', { defaultValue: e.status })}</Tag> },
          { title: t('wecom.welcome.tagsApplied'), className: 'nowrap', render: (_, e) => t(`wecom.welcome.tagsState.${e.tags_applied}` as 'wecom.welcome.tagsState.0', { defaultValue: String(e.tags_applied) }) },
          { title: t('wecom.welcome.error'), render: (_, e) => e.error ? <Typography.Text type="danger">{e.error}</Typography.Text> : null },
          { title: t('wecom.updated'), className: 'nowrap', render: (_, e) => fmtTime(e.ts) },
        ]} />
    </Card>
  );
}

// WelcomeModal sets a State's welcome message: a new one for a State of
// the QR codes (or any typed), or the one given.
function WelcomeModal({ state, welcome, ways, tags, onClose }: { state?: string; welcome?: Welcome; ways: ContactWay[]; tags: LibraryTag[]; onClose: (saved?: boolean) => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<WelcomeForm & { state: string[] }>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const save = async (v: WelcomeForm & { state: string[] }) => {
    setBusy(true);
    setError(null);
    try {
      const st = state ?? v.state[0];
      await api('PUT', `/wecom/welcomes/${encodeURIComponent(st)}`, welcomeRequest(v, welcome));
      onClose(true);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal open title={state ? t('wecom.welcome.editTitle', { state }) : t('wecom.welcome.new')} onCancel={() => onClose()} width={600}
      okText={t('wecom.save')} cancelText={t('common.cancel')} okButtonProps={{ loading: busy, 'data-testid': 'save-welcome' } as any} onOk={() => form.submit()}>
      <Form form={form} layout="vertical" initialValues={{ ...welcomeForm(welcome), state: state ? [state] : [] }} onFinish={save}>
        {!state && (
          <Form.Item name="state" label="State" rules={[{ required: true, type: 'array', min: 1, max: 1, message: t('wecom.welcome.pickState') }]}>
            <Select mode="tags" maxCount={1} options={ways.filter((w) => w.status === 'active').map((w) => ({ value: w.state, label: w.remark ? `${w.state}（${w.remark}）` : w.state }))} data-testid="welcome-state" />
          </Form.Item>
        )}
        <Form.Item name="text" label={t('wecom.welcome.text')} extra={t('wecom.welcome.textHelp')}
          rules={[{ validator: (_, v: string) => (utf8Bytes(v ?? '') > maxWelcomeBytes ? Promise.reject(new Error(t('wecom.welcome.tooLong', { max: maxWelcomeBytes }))) : Promise.resolve()) }]}>
          <Input.TextArea rows={4} data-testid="welcome-text" />
        </Form.Item>
        <Space.Compact block>
          <Form.Item name="link_title" label={t('wecom.welcome.linkTitle')} style={{ width: '40%' }}>
            <Input />
          </Form.Item>
          <Form.Item name="link_url" label={t('wecom.welcome.linkUrl')} style={{ width: '60%' }}>
            <Input placeholder="https://" />
          </Form.Item>
        </Space.Compact>
        <Form.Item name="tag_ids" label={t('wecom.qr.autoTags')} extra={t('wecom.qr.autoTagsHelp')}>
          <Select mode="multiple" showSearch optionFilterProp="label" options={tags.map((g) => ({ value: g.id, label: `${g.group_name} / ${g.name}` }))} />
        </Form.Item>
      </Form>
      {error ? <ErrorAlert error={error} /> : null}
    </Modal>
  );
}
