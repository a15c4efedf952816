import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { Alert, Button, Card, Col, Form, Input, Row, Select, Space, Typography } from 'antd';
import { IdcardOutlined, SearchOutlined } from '@ant-design/icons';
import { get } from '../api';
import { useAuth } from '../auth';
import { useTranslation } from 'react-i18next';
import { useName } from '../i18n';
import { ErrorAlert, PageTitle } from '../components/common';

export default function Profiles() {
  const { t } = useTranslation();
  const name = useName();
  const navigate = useNavigate();
  const { can } = useAuth();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const search = async (v: { type: string; value: string }) => {
    setError(null);
    const value = v.value.trim();
    if (v.type === 'oneid') {
      navigate('/profiles/' + value);
      return;
    }
    setBusy(true);
    try {
      const p = await get<{ person_id: number }>(`/profiles/lookup?type=${encodeURIComponent(v.type)}&value=${encodeURIComponent(value)}`);
      navigate('/profiles/' + p.person_id);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  // Looking a person up by a personal identifier needs the marketer role
  // and is audited (docs/identity.md); an analyst opens a profile by its
  // OneID or looks up an SDK's pseudonymous id.
  const operator = can('marketer');
  const types = operator
    ? ['phone', 'unionid', 'wecom_external_userid', 'douyin_openid', 'member_no', 'tmall_ouid', 'email', 'user_id']
    : ['anonymous_id', 'device_id'];
  return (
    <>
      <PageTitle title={t('common.profiles')} sub={operator
        ? t('profiles.findCustomerPhoneWechat')
        : t('profiles.openCustomersViewOneid')} />
      <Row justify="center">
        <Col xs={24} lg={16} xl={12}>
          <Card bordered={false} style={{ marginTop: 24 }}>
            <Space direction="vertical" style={{ width: '100%' }} size="large">
              <Typography.Title level={4} style={{ margin: 0 }}><IdcardOutlined /> {t('profiles.findCustomer')}</Typography.Title>
              {!operator && (
                <Alert type="info" showIcon data-testid="lookup-needs-marketer"
                  message={t('profiles.findingCustomerPhoneE')}
                  description={t('profiles.analystsOpenProfilesOneid')} />
              )}
              <Form layout="inline" onFinish={search} initialValues={{ type: operator ? 'phone' : 'oneid' }} style={{ flexWrap: 'nowrap' }}>
                <Form.Item name="type" style={{ width: 200 }}>
                  <Select data-testid="lookup-type" options={[...types.map((x) => ({ value: x, label: name(x, 'id') })), { value: 'oneid', label: 'OneID' }]} />
                </Form.Item>
                <Form.Item name="value" style={{ flex: 1 }} rules={[{ required: true, message: t('profiles.enterIdentifier') }]}>
                  <Input allowClear placeholder={operator ? t('profiles.eGWmxxxx') : t('profiles.eGOneid')} data-testid="lookup-value" />
                </Form.Item>
                <Form.Item style={{ marginRight: 0 }}>
                  <Button type="primary" htmlType="submit" icon={<SearchOutlined />} loading={busy} data-testid="lookup">{t('profiles.search')}</Button>
                </Form.Item>
              </Form>
              {error ? <ErrorAlert error={error} /> : null}
              <Typography.Text type="secondary">
                {operator
                  ? t('profiles.phoneMatchedKeyedHash')
                  : t('profiles.profilesShowOnlyPhones')}
              </Typography.Text>
            </Space>
          </Card>
        </Col>
      </Row>
    </>
  );
}
