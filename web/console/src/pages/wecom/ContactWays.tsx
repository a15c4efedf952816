import { useCallback, useEffect, useState } from 'react';
import { Button, Card, Form, Input, Modal, Popconfirm, Select, Space, Switch, Table, Tag, Typography } from 'antd';
import { PlusOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { api, ContactWay, get, LibraryTag, post, Welcome } from '../../api';
import { useAuth } from '../../auth';
import { ErrorAlert, fmtInt, fmtTime } from '../../components/common';
import QRImage from './QRImage';
import { maxRemarkChars, maxStateChars, maxWayUsers, maxWelcomeBytes, stateProblem, utf8Bytes, wayForm, WayForm, wayInput, wayKinds, welcomeForm, welcomeRequest } from './model';

const wayColor: Record<string, string> = { active: 'success', pending: 'processing', deleted: 'default' };

type Values = WayForm & { welcome_text?: string; tag_ids?: string[] };

// ContactWays lists the channel QR codes (渠道活码), each with its image
// (downloadable as PNG) and the customers its State added; a marketer
// creates, edits and deletes them. A code's automatic tags travel with
// its State's welcome message, set here or on the welcome tab.
export default function ContactWays() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const [ways, setWays] = useState<ContactWay[] | null>(null);
  const [welcomes, setWelcomes] = useState<Record<string, Welcome>>({});
  const [tags, setTags] = useState<LibraryTag[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState<ContactWay | 'new' | null>(null);
  const [shown, setShown] = useState<ContactWay | null>(null);
  const load = useCallback(() => {
    get<{ items: ContactWay[] }>('/wecom/contact-ways').then((r) => setWays(r.items)).catch(setError);
    get<{ items: Welcome[] }>('/wecom/welcomes').then((r) => setWelcomes(Object.fromEntries(r.items.map((w) => [w.state, w])))).catch(setError);
  }, []);
  useEffect(() => {
    load();
    get<{ items: LibraryTag[] }>('/wecom/tags').then((r) => setTags(r.items)).catch(setError);
  }, [load]);
  const tagName = Object.fromEntries(tags.map((g) => [g.id, g.name]));
  const remove = (w: ContactWay) => api('DELETE', `/wecom/contact-ways/${encodeURIComponent(w.state)}`).then(load).catch(setError);
  return (
    <Card bordered={false} title={t('wecom.qr.title')}
      extra={can('marketer') && <Button type="primary" icon={<PlusOutlined />} onClick={() => setEditing('new')} data-testid="new-qr">{t('wecom.qr.new')}</Button>}>
      {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
      <Table rowKey="state" loading={!ways && !error} dataSource={ways ?? []} data-testid="qr-table" size="middle"
        columns={[
          { title: t('wecom.qr.image'), width: 96, render: (_, w) => w.status === 'active' ? <a onClick={() => setShown(w)}><QRImage state={w.state} size={56} /></a> : null },
          { title: 'State', dataIndex: 'state', render: (s: string) => <Typography.Text code>{s}</Typography.Text> },
          { title: t('wecom.qr.kind'), className: 'nowrap', render: (_, w) => <>{t(`wecom.qr.kinds.${w.kind}` as 'wecom.qr.kinds.store')}{w.ref ? ` · ${w.ref}` : ''}</> },
          { title: t('wecom.qr.remark'), dataIndex: 'remark' },
          { title: t('wecom.qr.users'), render: (_, w) => w.users.join('、') },
          { title: t('wecom.qr.autoTags'), render: (_, w) => (welcomes[w.state]?.tag_ids ?? []).map((id) => <Tag key={id}>{tagName[id] ?? id}</Tag>) },
          { title: t('wecom.qr.added'), className: 'nowrap', render: (_, w) => fmtInt(w.added) },
          { title: t('common.status'), className: 'nowrap', render: (_, w) => <Tag color={wayColor[w.status]}>{t(`wecom.qr.status.${w.status}` as 'wecom.qr.status.active')}</Tag> },
          { title: t('wecom.updated'), className: 'nowrap', render: (_, w) => fmtTime(w.updated_at) },
          {
            title: '', className: 'nowrap',
            render: (_, w) => (
              <Space>
                {w.status === 'active' && <Button size="small" onClick={() => setShown(w)}>{t('wecom.qr.show')}</Button>}
                {can('marketer') && w.status === 'active' && <Button size="small" onClick={() => setEditing(w)}>{t('wecom.edit')}</Button>}
                {can('marketer') && (
                  <Popconfirm title={t('wecom.qr.confirmDelete')} onConfirm={() => remove(w)}>
                    <Button size="small" danger>{t('wecom.delete')}</Button>
                  </Popconfirm>
                )}
              </Space>
            ),
          },
        ]} />
      <Typography.Paragraph type="secondary" style={{ marginTop: 12, marginBottom: 0 }}>{t('wecom.qr.help')}</Typography.Paragraph>
      {editing && <WayModal way={editing === 'new' ? null : editing} welcome={editing === 'new' ? undefined : welcomes[editing.state]} tags={tags}
        onClose={(saved) => { setEditing(null); if (saved) { load(); setShown(saved); } }} />}
      <Modal open={!!shown} title={shown?.state} footer={null} onCancel={() => setShown(null)} destroyOnClose>
        {shown && (
          <Space direction="vertical" align="center" style={{ width: '100%' }} data-testid="qr-modal">
            <QRImage state={shown.state} size={240} download />
            <Typography.Text type="secondary">{shown.remark || shown.users.join('、')}</Typography.Text>
          </Space>
        )}
      </Modal>
    </Card>
  );
}

// WayModal creates a QR code (way null) or edits one; a welcome text or
// automatic tags given are set as the State's welcome message after the
// code is saved.
function WayModal({ way, welcome, tags, onClose }: { way: ContactWay | null; welcome?: Welcome; tags: LibraryTag[]; onClose: (saved?: ContactWay) => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<Values>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const initial: Values = way
    ? { ...wayForm(way), welcome_text: welcome?.text, tag_ids: welcome?.tag_ids }
    : { state: '', kind: 'store', ref: '', remark: '', users: [], skip_verify: true, welcome_text: '', tag_ids: [] };
  const save = async (v: Values) => {
    setBusy(true);
    setError(null);
    try {
      const body = wayInput(v);
      const saved = way
        ? await api<ContactWay>('PUT', `/wecom/contact-ways/${encodeURIComponent(way.state)}`, body)
        : await post<ContactWay>('/wecom/contact-ways', body);
      if ((v.welcome_text ?? '').trim() || (v.tag_ids ?? []).length) {
        await api('PUT', `/wecom/welcomes/${encodeURIComponent(saved.state)}`, welcomeRequest({ ...welcomeForm(welcome), text: v.welcome_text, tag_ids: v.tag_ids }, welcome));
      }
      onClose(saved);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal open title={way ? t('wecom.qr.edit', { state: way.state }) : t('wecom.qr.new')} onCancel={() => onClose()} width={640}
      okText={t('wecom.save')} cancelText={t('common.cancel')} okButtonProps={{ loading: busy, 'data-testid': 'save-qr' } as any} onOk={() => form.submit()}>
      <Form form={form} layout="vertical" initialValues={initial} onFinish={save} data-testid="qr-form">
        <Form.Item name="state" label={t('wecom.qr.state')} extra={t('wecom.qr.stateHelp', { max: maxStateChars })}
          rules={[{ validator: (_, v: string) => { const p = stateProblem(v ?? ''); return p ? Promise.reject(new Error(t(`wecom.qr.${p}`, { max: maxStateChars }))) : Promise.resolve(); } }]}>
          <Input disabled={!!way} maxLength={maxStateChars} data-testid="qr-state" />
        </Form.Item>
        <Space.Compact block>
          <Form.Item name="kind" label={t('wecom.qr.kind')} style={{ width: 180 }}>
            <Select options={wayKinds.map((k) => ({ value: k, label: t(`wecom.qr.kinds.${k}`) }))} data-testid="qr-kind" />
          </Form.Item>
          <Form.Item name="ref" label={t('wecom.qr.ref')} extra={t('wecom.qr.refHelp')} style={{ flex: 1 }}>
            <Input maxLength={128} data-testid="qr-ref" />
          </Form.Item>
        </Space.Compact>
        <Form.Item name="users" label={t('wecom.qr.users')} extra={t('wecom.qr.usersHelp', { max: maxWayUsers })}
          rules={[{ required: true, type: 'array', min: 1, message: t('wecom.qr.usersRequired') }, { type: 'array', max: maxWayUsers, message: t('wecom.qr.usersHelp', { max: maxWayUsers }) }]}>
          <Select mode="tags" tokenSeparators={[',', '，', ' ', '、']} notFoundContent={null} suffixIcon={null} data-testid="qr-users" />
        </Form.Item>
        <Form.Item name="remark" label={t('wecom.qr.remark')}>
          <Input maxLength={maxRemarkChars} showCount />
        </Form.Item>
        <Form.Item name="skip_verify" label={t('wecom.qr.skipVerify')} valuePropName="checked">
          <Switch />
        </Form.Item>
        <Form.Item name="tag_ids" label={t('wecom.qr.autoTags')} extra={t('wecom.qr.autoTagsHelp')}>
          <Select mode="multiple" showSearch optionFilterProp="label" options={tags.map((g) => ({ value: g.id, label: `${g.group_name} / ${g.name}` }))} data-testid="qr-tags" />
        </Form.Item>
        <Form.Item name="welcome_text" label={t('wecom.welcome.text')} dependencies={['tag_ids']}
          rules={[
            ({ getFieldValue }) => ({
              validator: (_, v: string) => ((getFieldValue('tag_ids') ?? []).length && !(v ?? '').trim() ? Promise.reject(new Error(t('wecom.qr.tagsNeedText'))) : Promise.resolve()),
            }),
            { validator: (_, v: string) => (utf8Bytes(v ?? '') > maxWelcomeBytes ? Promise.reject(new Error(t('wecom.welcome.tooLong', { max: maxWelcomeBytes }))) : Promise.resolve()) },
          ]}>
          <Input.TextArea rows={3} data-testid="qr-welcome" />
        </Form.Item>
      </Form>
      {error ? <ErrorAlert error={error} /> : null}
    </Modal>
  );
}
