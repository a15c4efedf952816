import { useState } from 'react';
import { Button, Card, Checkbox, Form, Input, Segmented, Space, Typography } from 'antd';
import { KeyOutlined } from '@ant-design/icons';
import { api, Principal } from '../api';
import { useAuth } from '../auth';
import { useTranslation } from 'react-i18next';
import { Lang, useLang } from '../i18n';
import { ErrorAlert } from '../components/common';

export default function SignIn() {
  const { t } = useTranslation();
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
      setError(e); // a 401 reads as errors.unauthorized: the token is unknown or revoked
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
                <Typography.Title level={4} style={{ margin: 0 }}>{t('common.granaryCdp')}</Typography.Title>
                <Typography.Text type="secondary">{t('signIn.marketingConsoleGrainOil')}</Typography.Text>
              </div>
            </Space>
            <Segmented size="small" value={lang} onChange={(v) => setLang(v as Lang)} options={[{ label: '中', value: 'zh' }, { label: 'EN', value: 'en' }]} />
          </Space>
          <Form layout="vertical" onFinish={submit} initialValues={{ remember: false }} requiredMark={false}>
            <Form.Item
              name="token"
              label={t('signIn.apiToken')}
              rules={[{ required: true, message: t('signIn.enterApiToken') }]}
              extra={t('signIn.firstAdminTokenData')}
            >
              <Input.Password prefix={<KeyOutlined />} placeholder="cdp_at_…" autoFocus data-testid="token-input" />
            </Form.Item>
            <Form.Item name="remember" valuePropName="checked">
              <Checkbox>{t('signIn.keepMeSignedDevice')}</Checkbox>
            </Form.Item>
            {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
            <Button type="primary" htmlType="submit" block loading={busy} data-testid="signin">{t('signIn.submit')}</Button>
          </Form>
        </Space>
      </Card>
    </div>
  );
}
