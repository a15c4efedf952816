import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { Alert, Button, Card, Col, Form, Input, Row, Select, Space, Typography } from 'antd';
import { IdcardOutlined, SearchOutlined } from '@ant-design/icons';
import { get } from '../api';
import { useAuth } from '../auth';
import { useName, useT } from '../i18n';
import { ErrorAlert, PageTitle } from '../components/common';

export default function Profiles() {
  const t = useT();
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
      <PageTitle title={t('用户画像', 'Profiles')} sub={operator
        ? t('按手机号、微信 UnionID 或企业微信外部联系人 ID 查找客户，查看 360° 画像', 'Find a customer by phone, WeChat UnionID or WeCom id and open the 360° view')
        : t('按 OneID 打开客户的 360° 画像', 'Open a customer\'s 360° view by OneID')} />
      <Row justify="center">
        <Col xs={24} lg={16} xl={12}>
          <Card bordered={false} style={{ marginTop: 24 }}>
            <Space direction="vertical" style={{ width: '100%' }} size="large">
              <Typography.Title level={4} style={{ margin: 0 }}><IdcardOutlined /> {t('查找客户', 'Find a customer')}</Typography.Title>
              {!operator && (
                <Alert type="info" showIcon data-testid="lookup-needs-marketer"
                  message={t('按手机号、邮箱、UnionID、会员号等个人标识查找客户需要营销或管理员角色', 'Finding a customer by phone, e-mail, UnionID, member number or another personal identifier needs the marketer role')}
                  description={t('分析师可按 OneID 打开画像，或按匿名 ID、设备 ID 查找；画像中的个人标识均已脱敏。', 'Analysts open profiles by OneID, or look up an anonymous or device id; personal identifiers in profiles are masked.')} />
              )}
              <Form layout="inline" onFinish={search} initialValues={{ type: operator ? 'phone' : 'oneid' }} style={{ flexWrap: 'nowrap' }}>
                <Form.Item name="type" style={{ width: 200 }}>
                  <Select data-testid="lookup-type" options={[...types.map((x) => ({ value: x, label: name(x, 'id') })), { value: 'oneid', label: 'OneID' }]} />
                </Form.Item>
                <Form.Item name="value" style={{ flex: 1 }} rules={[{ required: true, message: t('请输入要查找的标识', 'Enter an identifier') }]}>
                  <Input allowClear placeholder={operator ? t('例如 13812345678 或 wmXXXX', 'e.g. 13812345678 or wmXXXX') : t('例如 OneID 1024', 'e.g. OneID 1024')} data-testid="lookup-value" />
                </Form.Item>
                <Form.Item style={{ marginRight: 0 }}>
                  <Button type="primary" htmlType="submit" icon={<SearchOutlined />} loading={busy} data-testid="lookup">{t('查找', 'Search')}</Button>
                </Form.Item>
              </Form>
              {error ? <ErrorAlert error={error} /> : null}
              <Typography.Text type="secondary">
                {operator
                  ? t('手机号以明文输入，仅用于按加密哈希匹配，不会被保存或显示；每次查找都会记入审计日志，且每个令牌每分钟限 3 次。画像中的手机号只显示后 4 位。', 'A phone is matched by its keyed hash and neither stored nor shown; every lookup is written to the audit log and limited to 3 a minute per token. Profiles show only a phone\'s last 4 digits.')
                  : t('画像中的手机号只显示后 4 位，邮箱、UnionID 等标识均已脱敏。', 'Profiles show only a phone\'s last 4 digits; e-mails, UnionIDs and other identifiers are masked.')}
              </Typography.Text>
            </Space>
          </Card>
        </Col>
      </Row>
    </>
  );
}
