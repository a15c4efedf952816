import { useState } from 'react';
import { Button, Card, Checkbox, Form, Input, Segmented, Space, Typography } from 'antd';
import { KeyOutlined } from '@ant-design/icons';
import { api, ApiError, Principal } from '../api';
import { useAuth } from '../auth';
import { Lang, useLang, useT } from '../i18n';
import { ErrorAlert } from '../components/common';

export default function SignIn() {
  const t = useT();
  const { lang, setLang } = useLang();
  const { signIn } = useAuth();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (v: { token: string; remember: boolean }) => {
    setBusy(true);
    setError(null);
    const token = v.token.trim();
    try {
      const me = await api<Principal>('GET', '/whoami', undefined, { token });
      signIn(me, token, v.remember);
    } catch (e) {
      setError(e instanceof ApiError && e.status === 401 ? new ApiError(401, { code: 'unauthorized', message: t('API 令牌无效或已被吊销', 'The API token is unknown or revoked') }) : e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="cdp-signin">
      <Card style={{ width: 420, maxWidth: '100%', boxShadow: '0 6px 24px rgba(0,0,0,.08)' }} bordered={false}>
        <Space direction="vertical" size="large" style={{ width: '100%' }}>
          <Space style={{ justifyContent: 'space-between', width: '100%' }}>
            <Space>
              <img src="/favicon.svg" width={36} height={36} alt="" />
              <div>
                <Typography.Title level={4} style={{ margin: 0 }}>{t('粮仓 CDP', 'Granary CDP')}</Typography.Title>
                <Typography.Text type="secondary">{t('粮油品牌客户数据平台 · 营销控制台', 'Marketing console for grain & oil brands')}</Typography.Text>
              </div>
            </Space>
            <Segmented size="small" value={lang} onChange={(v) => setLang(v as Lang)} options={[{ label: '中', value: 'zh' }, { label: 'EN', value: 'en' }]} />
          </Space>
          <Form layout="vertical" onFinish={submit} initialValues={{ remember: false }} requiredMark={false}>
            <Form.Item
              name="token"
              label={t('API 令牌', 'API token')}
              rules={[{ required: true, message: t('请输入 API 令牌', 'Enter an API token') }]}
              extra={t('首次启动时管理员令牌写在 data/admin-token 文件中；其他成员的令牌由管理员在「系统设置」中创建。',
                'The first admin token is in data/admin-token; admins create tokens for others under Settings.')}
            >
              <Input.Password prefix={<KeyOutlined />} placeholder="cdp_at_…" autoFocus data-testid="token-input" />
            </Form.Item>
            <Form.Item name="remember" valuePropName="checked">
              <Checkbox>{t('在此设备上保持登录', 'Keep me signed in on this device')}</Checkbox>
            </Form.Item>
            {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
            <Button type="primary" htmlType="submit" block loading={busy} data-testid="signin">{t('登录', 'Sign in')}</Button>
          </Form>
        </Space>
      </Card>
    </div>
  );
}
