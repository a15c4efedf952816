import { useCallback, useEffect, useState } from 'react';
import { Alert, App, Button, Card, Descriptions, Form, Input, Modal, Popconfirm, Radio, Select, Space, Table, Tabs, Tag, Typography } from 'antd';
import { KeyOutlined, LockOutlined, PlusOutlined } from '@ant-design/icons';
import { api, CreatedCredential, get, Principal, post } from '../api';
import { useAuth } from '../auth';
import { useTranslation } from 'react-i18next';
import { useName } from '../i18n';
import { ErrorAlert, fmtInt, PageTitle } from '../components/common';

export default function Settings() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const admin = can('admin');
  return (
    <>
      <PageTitle title={t('common.settings')} sub={t('settings.identifierRulesWriteKeys')} />
      <Card bordered={false}>
        <Tabs items={[
          { key: 'rules', label: t('settings.identifierRules'), children: <IdentityRules /> },
          { key: 'keys', label: t('settings.writeKeys'), children: admin ? <Credentials kind="write-keys" /> : <AdminOnly /> },
          { key: 'tokens', label: t('settings.apiTokens'), children: admin ? <Credentials kind="tokens" /> : <AdminOnly /> },
          { key: 'wecom', label: t('settings.wecom'), children: <WeCom /> },
          { key: 'sensitive', label: t('settings.sensitiveTags'), children: <Sensitive /> },
        ]} />
      </Card>
    </>
  );
}

function AdminOnly() {
  const { t } = useTranslation();
  return <Alert type="info" showIcon icon={<LockOutlined />} message={t('settings.onlyAdminsCanSee')} />;
}

function IdentityRules() {
  const { t } = useTranslation();
  const name = useName();
  const [r, setR] = useState<any>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get('/identity/rules').then(setR).catch(setError);
  }, []);
  if (error) return <ErrorAlert error={error} />;
  return (
    <>
      <Alert type="info" showIcon style={{ marginBottom: 16 }} message={t('settings.rulesDecideWhichIdentifiers')} />
      {r && <Space size="large" style={{ marginBottom: 12 }}><span>{t('settings.personIdsInclMerged')}: <b>{fmtInt(r.persons)}</b></span><span>{t('settings.identifiers')}: <b>{fmtInt(r.identifiers)}</b></span></Space>}
      <Table rowKey="type" size="small" loading={!r} dataSource={r?.items ?? []} pagination={false} data-testid="identity-rules"
        columns={[
          { title: t('settings.identifier'), dataIndex: 'type', render: (v) => <>{name(v, 'id')} <Typography.Text type="secondary" code>{v}</Typography.Text></> },
          { title: t('settings.priority'), dataIndex: 'priority' },
          { title: t('settings.mayJoin'), dataIndex: 'may_join', render: (v) => (v ? <Tag color="green">{t('settings.yes')}</Tag> : <Tag>{t('settings.no')}</Tag>) },
          { title: t('settings.limitPerIdentifier'), dataIndex: 'limit', render: (v) => (v ? `${v} ${t('settings.persons')}` : t('settings.none')) },
          { title: t('settings.window'), dataIndex: 'window', render: (v) => (v ? `${Math.round(v / 3.6e12)} h` : '–') },
          { title: t('settings.blockedValues'), dataIndex: 'blocked', render: (v) => (v ?? []).map((x: string) => <Tag key={x}>{x}</Tag>) },
        ]} />
    </>
  );
}

function Credentials({ kind }: { kind: 'tokens' | 'write-keys' }) {
  const { t } = useTranslation();
  const name = useName();
  const { modal } = App.useApp();
  const [items, setItems] = useState<Principal[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm();
  const load = useCallback(() => {
    get<{ items: Principal[] }>('/' + kind).then((r) => setItems(r.items)).catch(setError);
  }, [kind]);
  useEffect(load, [load]);
  const create = async () => {
    const v = await form.validateFields();
    setBusy(true);
    setError(null);
    try {
      const c = await post<CreatedCredential>('/' + kind, v);
      setOpen(false);
      form.resetFields();
      load();
      modal.success({
        title: t('settings.copyNow'),
        width: 560,
        content: <>
          <Typography.Paragraph>{t('settings.secretShownOnceOnly')}</Typography.Paragraph>
          <Typography.Paragraph copyable code data-testid="new-secret">{c.secret}</Typography.Paragraph>
        </>,
      });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (id: string) => {
    try {
      await api('DELETE', `/${kind}/${id}`);
      load();
    } catch (e) {
      setError(e);
    }
  };
  const tokens = kind === 'tokens';
  const scopeName = (v: string) => (v === 'server' ? t('settings.server') : t('settings.client'));
  return (
    <>
      {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
      <Space style={{ marginBottom: 12 }}>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setOpen(true)} data-testid={`create-${kind}`}>{tokens ? t('settings.newApiToken') : t('settings.newWriteKey')}</Button>
        <Typography.Text type="secondary">{tokens ? t('settings.apiTokensSignConsole') : t('settings.writeKeysAuthenticateSdks')}</Typography.Text>
      </Space>
      <Table rowKey="id" size="small" loading={!items} dataSource={items ?? []} pagination={false}
        columns={[
          { title: 'ID', dataIndex: 'id', render: (v) => <Typography.Text code>{v}</Typography.Text> },
          { title: t('settings.name'), dataIndex: 'name' },
          tokens ? { title: t('settings.role'), dataIndex: 'role', render: (v: string) => <Tag color={v === 'admin' ? 'gold' : v === 'marketer' ? 'blue' : 'default'}>{name(v)}</Tag> }
            : { title: t('settings.dataSource'), dataIndex: 'source', render: (v: string) => <Tag>{name(v)}</Tag> },
          ...(tokens ? [] : [{ title: t('settings.scope'), dataIndex: 'scope', render: (v: string) => <Tag color={v === 'server' ? 'orange' : 'blue'} data-testid="write-key-scope">{scopeName(v)}</Tag> }]),
          { title: t('common.action'), render: (_: any, r: any) => (
            <Popconfirm title={t('settings.revokeNowStopsWorking')} onConfirm={() => revoke(r.id)} okText={t('settings.revoke')} cancelText={t('common.cancel')}>
              <Button size="small" danger>{t('settings.revoke')}</Button>
            </Popconfirm>
          ) },
        ]} />
      <Modal open={open} title={tokens ? t('settings.newApiToken') : t('settings.newWriteKey')} onOk={create} confirmLoading={busy} onCancel={() => setOpen(false)} okText={t('common.create')} cancelText={t('common.cancel')}>
        <Form form={form} layout="vertical" initialValues={{ role: 'marketer', scope: 'client' }}>
          <Form.Item name="name" label={t('settings.name')} rules={[{ required: true }]}><Input placeholder={tokens ? t('settings.eGWangMarketing') : t('settings.eGTmallOrder')} /></Form.Item>
          {tokens ? (
            <Form.Item name="role" label={t('settings.role')}>
              <Select options={['admin', 'marketer', 'analyst'].map((r) => ({ value: r, label: name(r) }))} />
            </Form.Item>
          ) : (
            <Form.Item name="source" label={t('settings.dataSource')} rules={[{ required: true, pattern: /^[a-z][a-z0-9_]{0,31}$/, message: t('settings.lowerCaseLettersDigits') }]}>
              <Input prefix={<KeyOutlined />} placeholder="tmall" />
            </Form.Item>
          )}
          {!tokens && (
            <Form.Item name="scope" label={t('settings.scope')} extra={t('settings.chooseClientKeySdks')}>
              <Radio.Group data-testid="write-key-scope-choice" options={[
                { value: 'client', label: t('settings.clientSdksSuggested') },
                { value: 'server', label: t('settings.serverOrdersImports') },
              ]} />
            </Form.Item>
          )}
        </Form>
      </Modal>
    </>
  );
}

function WeCom() {
  const { t } = useTranslation();
  const [w, setW] = useState<any>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get('/settings/wecom').then(setW).catch(setError);
  }, []);
  if (error) return <ErrorAlert error={error} />;
  if (!w) return null;
  const state = (ok: boolean) => (ok ? <Tag color="green">{t('settings.configured')}</Tag> : <Tag>{t('settings.notSet')}</Tag>);
  return (
    <>
      <Alert type="info" showIcon icon={<LockOutlined />} style={{ marginBottom: 16 }}
        message={t('settings.wecomCredentialsReadOnly')}
        description={<>{t('settings.changeThemSetThese')}
          {w.setting_variables.map((v: string) => <Typography.Text code key={v}>{v}</Typography.Text>)}</>} />
      <Descriptions bordered size="small" column={1} data-testid="wecom-settings">
        <Descriptions.Item label={t('settings.callbacks')}>{state(w.configured)}</Descriptions.Item>
        <Descriptions.Item label={t('settings.corpId')}>{w.corp_id || '–'}</Descriptions.Item>
        <Descriptions.Item label="Token">{w.token || '–'}</Descriptions.Item>
        <Descriptions.Item label="EncodingAESKey">{w.aes_key || '–'}</Descriptions.Item>
        <Descriptions.Item label={t('settings.contactSecret')}>{w.secret || '–'} {state(w.contact_api)}</Descriptions.Item>
        <Descriptions.Item label={t('settings.callbackPath')}><Typography.Text code copyable>{location.origin + w.callback_path}</Typography.Text></Descriptions.Item>
      </Descriptions>
    </>
  );
}

function Sensitive() {
  const { t } = useTranslation();
  const [r, setR] = useState<any>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get('/settings/sensitive-tags').then(setR).catch(setError);
  }, []);
  if (error) return <ErrorAlert error={error} />;
  return (
    <>
      <Alert type="warning" showIcon style={{ marginBottom: 16 }}
        message={t('settings.sensitivePersonalInformationHealth')}
        description={t('settings.whenSegmentRuleReads')} />
      <Table rowKey={(x: any) => x.source + x.tag} size="small" loading={!r} dataSource={r?.items ?? []} pagination={false} data-testid="sensitive-tags"
        columns={[
          { title: t('settings.termTag'), dataIndex: 'tag', render: (v) => <Tag color="red">{v}</Tag> },
          { title: t('settings.sourceColumn'), dataIndex: 'source', render: (v) => (v === 'term' ? t('settings.builtTerm') : t('settings.sensitiveTag')) },
          { title: t('settings.personsColumn'), dataIndex: 'persons', render: (v, x: any) => (x.source === 'tag' ? fmtInt(v) : '–') },
        ]} />
    </>
  );
}
