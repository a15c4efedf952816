import { useCallback, useEffect, useState } from 'react';
import { Alert, App, Button, Card, Descriptions, Form, Input, Modal, Popconfirm, Radio, Select, Space, Table, Tabs, Tag, Typography } from 'antd';
import { KeyOutlined, LockOutlined, PlusOutlined } from '@ant-design/icons';
import { api, CreatedCredential, get, Principal, post } from '../api';
import { useAuth } from '../auth';
import { useName, useT } from '../i18n';
import { ErrorAlert, fmtInt, PageTitle } from '../components/common';

export default function Settings() {
  const t = useT();
  const { can } = useAuth();
  const admin = can('admin');
  return (
    <>
      <PageTitle title={t('系统设置', 'Settings')} sub={t('身份识别规则、数据接入密钥、API 令牌、企业微信与敏感标签', 'Identifier rules, write keys, API tokens, WeCom and sensitive tags')} />
      <Card bordered={false}>
        <Tabs items={[
          { key: 'rules', label: t('身份识别规则', 'Identifier rules'), children: <IdentityRules /> },
          { key: 'keys', label: t('数据接入密钥', 'Write keys'), children: admin ? <Credentials kind="write-keys" /> : <AdminOnly /> },
          { key: 'tokens', label: t('API 令牌', 'API tokens'), children: admin ? <Credentials kind="tokens" /> : <AdminOnly /> },
          { key: 'wecom', label: t('企业微信', 'WeCom'), children: <WeCom /> },
          { key: 'sensitive', label: t('敏感标签', 'Sensitive tags'), children: <Sensitive /> },
        ]} />
      </Card>
    </>
  );
}

function AdminOnly() {
  const t = useT();
  return <Alert type="info" showIcon icon={<LockOutlined />} message={t('仅管理员可以查看和管理密钥与令牌。', 'Only admins can see and manage keys and tokens.')} />;
}

function IdentityRules() {
  const t = useT();
  const name = useName();
  const [r, setR] = useState<any>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get('/identity/rules').then(setR).catch(setError);
  }, []);
  if (error) return <ErrorAlert error={error} />;
  return (
    <>
      <Alert type="info" showIcon style={{ marginBottom: 16 }} message={t('规则决定哪些标识可以把不同记录合并为同一客户（OneID）。修改请编辑 CDP_IDENTITY_RULES 指向的 JSON 文件并重启服务，详见 docs/identity.md。',
        'Rules decide which identifiers may join records into one customer (OneID). To change them, edit the JSON file named by CDP_IDENTITY_RULES and restart; see docs/identity.md.')} />
      {r && <Space size="large" style={{ marginBottom: 12 }}><span>{t('客户数（含已合并）', 'Person ids (incl. merged)')}: <b>{fmtInt(r.persons)}</b></span><span>{t('标识数', 'Identifiers')}: <b>{fmtInt(r.identifiers)}</b></span></Space>}
      <Table rowKey="type" size="small" loading={!r} dataSource={r?.items ?? []} pagination={false} data-testid="identity-rules"
        columns={[
          { title: t('标识类型', 'Identifier'), dataIndex: 'type', render: (v) => <>{name(v, 'id')} <Typography.Text type="secondary" code>{v}</Typography.Text></> },
          { title: t('优先级', 'Priority'), dataIndex: 'priority' },
          { title: t('可合并', 'May join'), dataIndex: 'may_join', render: (v) => (v ? <Tag color="green">{t('是', 'yes')}</Tag> : <Tag>{t('否', 'no')}</Tag>) },
          { title: t('每个标识最多关联', 'Limit per identifier'), dataIndex: 'limit', render: (v) => (v ? `${v} ${t('人', 'persons')}` : t('不限', 'none')) },
          { title: t('时间窗口', 'Window'), dataIndex: 'window', render: (v) => (v ? `${Math.round(v / 3.6e12)} h` : '–') },
          { title: t('屏蔽值', 'Blocked values'), dataIndex: 'blocked', render: (v) => (v ?? []).map((x: string) => <Tag key={x}>{x}</Tag>) },
        ]} />
    </>
  );
}

function Credentials({ kind }: { kind: 'tokens' | 'write-keys' }) {
  const t = useT();
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
        title: t('请立即复制保存', 'Copy it now'),
        width: 560,
        content: <>
          <Typography.Paragraph>{t('密钥只显示这一次，平台只保存其哈希值。', 'The secret is shown once; only its hash is stored.')}</Typography.Paragraph>
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
  const scopeName = (v: string) => (v === 'server' ? t('服务端', 'server') : t('客户端', 'client'));
  return (
    <>
      {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
      <Space style={{ marginBottom: 12 }}>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setOpen(true)} data-testid={`create-${kind}`}>{tokens ? t('创建 API 令牌', 'New API token') : t('创建接入密钥', 'New write key')}</Button>
        <Typography.Text type="secondary">{tokens ? t('API 令牌用于登录控制台和调用管理 API。', 'API tokens sign in to the console and call the management API.') : t('接入密钥用于 SDK、订单与文件导入（HTTP Basic 用户名）。客户端密钥只能上报行为，订单与导入需要服务端密钥。', 'Write keys authenticate SDKs, orders and file imports (HTTP Basic user). Client keys send behaviour only; orders and imports need a server key.')}</Typography.Text>
      </Space>
      <Table rowKey="id" size="small" loading={!items} dataSource={items ?? []} pagination={false}
        columns={[
          { title: 'ID', dataIndex: 'id', render: (v) => <Typography.Text code>{v}</Typography.Text> },
          { title: t('名称', 'Name'), dataIndex: 'name' },
          tokens ? { title: t('角色', 'Role'), dataIndex: 'role', render: (v: string) => <Tag color={v === 'admin' ? 'gold' : v === 'marketer' ? 'blue' : 'default'}>{name(v)}</Tag> }
            : { title: t('数据来源', 'Source'), dataIndex: 'source', render: (v: string) => <Tag>{name(v)}</Tag> },
          ...(tokens ? [] : [{ title: t('权限范围', 'Scope'), dataIndex: 'scope', render: (v: string) => <Tag color={v === 'server' ? 'orange' : 'blue'} data-testid="write-key-scope">{scopeName(v)}</Tag> }]),
          { title: t('操作', 'Action'), render: (_: any, r: any) => (
            <Popconfirm title={t('吊销后立即失效，确定？', 'Revoke now? It stops working at once.')} onConfirm={() => revoke(r.id)} okText={t('吊销', 'Revoke')} cancelText={t('取消', 'Cancel')}>
              <Button size="small" danger>{t('吊销', 'Revoke')}</Button>
            </Popconfirm>
          ) },
        ]} />
      <Modal open={open} title={tokens ? t('创建 API 令牌', 'New API token') : t('创建接入密钥', 'New write key')} onOk={create} confirmLoading={busy} onCancel={() => setOpen(false)} okText={t('创建', 'Create')} cancelText={t('取消', 'Cancel')}>
        <Form form={form} layout="vertical" initialValues={{ role: 'marketer', scope: 'client' }}>
          <Form.Item name="name" label={t('名称', 'Name')} rules={[{ required: true }]}><Input placeholder={tokens ? t('例如：运营小王', 'e.g. Wang (marketing)') : t('例如：天猫订单同步', 'e.g. Tmall order sync')} /></Form.Item>
          {tokens ? (
            <Form.Item name="role" label={t('角色', 'Role')}>
              <Select options={['admin', 'marketer', 'analyst'].map((r) => ({ value: r, label: name(r) }))} />
            </Form.Item>
          ) : (
            <Form.Item name="source" label={t('数据来源', 'Source')} rules={[{ required: true, pattern: /^[a-z][a-z0-9_]{0,31}$/, message: t('小写字母、数字或下划线，以字母开头（如 tmall、pos）', 'lower-case letters, digits or _, starting with a letter (tmall, pos)') }]}>
              <Input prefix={<KeyOutlined />} placeholder="tmall" />
            </Form.Item>
          )}
          {!tokens && (
            <Form.Item name="scope" label={t('权限范围', 'Scope')} extra={t('SDK、网页和小程序选客户端密钥：密钥随代码发布，任何人都能看到，所以它只能上报行为（track、identify、page 等）。订单同步和文件导入选服务端密钥，只放在服务器上。',
              'Choose a client key for SDKs, web pages and mini-programs: the key ships inside the code where anyone can read it, so it can only send behaviour (track, identify, page, ...). Choose a server key for order sync and file imports, and keep it on a server.')}>
              <Radio.Group data-testid="write-key-scope-choice" options={[
                { value: 'client', label: t('客户端（SDK，推荐）', 'Client (SDKs, suggested)') },
                { value: 'server', label: t('服务端（订单、导入）', 'Server (orders, imports)') },
              ]} />
            </Form.Item>
          )}
        </Form>
      </Modal>
    </>
  );
}

function WeCom() {
  const t = useT();
  const [w, setW] = useState<any>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get('/settings/wecom').then(setW).catch(setError);
  }, []);
  if (error) return <ErrorAlert error={error} />;
  if (!w) return null;
  const state = (ok: boolean) => (ok ? <Tag color="green">{t('已配置', 'configured')}</Tag> : <Tag>{t('未配置', 'not set')}</Tag>);
  return (
    <>
      <Alert type="info" showIcon icon={<LockOutlined />} style={{ marginBottom: 16 }}
        message={t('企业微信凭据只读显示，密钥不会在控制台出现', 'WeCom credentials are read-only here; secrets never reach the console')}
        description={<>{t('修改方式：设置以下环境变量（或同名命令行参数）后重启 cdp serve：', 'To change them, set these environment variables (or the matching flags) and restart cdp serve: ')}
          {w.setting_variables.map((v: string) => <Typography.Text code key={v}>{v}</Typography.Text>)}</>} />
      <Descriptions bordered size="small" column={1} data-testid="wecom-settings">
        <Descriptions.Item label={t('回调接入', 'Callbacks')}>{state(w.configured)}</Descriptions.Item>
        <Descriptions.Item label={t('企业 ID（CorpID）', 'Corp ID')}>{w.corp_id || '–'}</Descriptions.Item>
        <Descriptions.Item label="Token">{w.token || '–'}</Descriptions.Item>
        <Descriptions.Item label="EncodingAESKey">{w.aes_key || '–'}</Descriptions.Item>
        <Descriptions.Item label={t('客户联系 Secret', 'Contact secret')}>{w.secret || '–'} {state(w.contact_api)}</Descriptions.Item>
        <Descriptions.Item label={t('回调地址路径', 'Callback path')}><Typography.Text code copyable>{location.origin + w.callback_path}</Typography.Text></Descriptions.Item>
      </Descriptions>
    </>
  );
}

function Sensitive() {
  const t = useT();
  const [r, setR] = useState<any>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get('/settings/sensitive-tags').then(setR).catch(setError);
  }, []);
  if (error) return <ErrorAlert error={error} />;
  return (
    <>
      <Alert type="warning" showIcon style={{ marginBottom: 16 }}
        message={t('敏感个人信息（健康相关兴趣）', 'Sensitive personal information (health interests)')}
        description={t('人群规则中出现以下词语或标签时，活动只会发送给已单独同意的客户（《个人信息保护法》第 28–29 条）。同意记录通过 PUT /api/v1/profiles/{id}/consent（kind = sensitive_consent）登记。',
          'When a segment rule reads one of these terms or tags, a campaign reaches only customers with separate consent (PIPL art. 28–29). Record consent with PUT /api/v1/profiles/{id}/consent (kind sensitive_consent).')} />
      <Table rowKey={(x: any) => x.source + x.tag} size="small" loading={!r} dataSource={r?.items ?? []} pagination={false} data-testid="sensitive-tags"
        columns={[
          { title: t('词语 / 标签', 'Term / tag'), dataIndex: 'tag', render: (v) => <Tag color="red">{v}</Tag> },
          { title: t('来源', 'Source'), dataIndex: 'source', render: (v) => (v === 'term' ? t('内置敏感词', 'built-in term') : t('敏感标签', 'sensitive tag')) },
          { title: t('携带人数', 'Persons'), dataIndex: 'persons', render: (v, x: any) => (x.source === 'tag' ? fmtInt(v) : '–') },
        ]} />
    </>
  );
}
