import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { Button, Card, Col, Form, Input, Row, Select, Space, Typography } from 'antd';
import { IdcardOutlined, SearchOutlined } from '@ant-design/icons';
import { get } from '../api';
import { useName, useT } from '../i18n';
import { ErrorAlert, PageTitle } from '../components/common';

export default function Profiles() {
  const t = useT();
  const name = useName();
  const navigate = useNavigate();
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
  const types = ['phone', 'unionid', 'wecom_external_userid', 'douyin_openid', 'member_no', 'tmall_ouid'];
  return (
    <>
      <PageTitle title={t('用户画像', 'Profiles')} sub={t('按手机号、微信 UnionID 或企业微信外部联系人 ID 查找客户，查看 360° 画像', 'Find a customer by phone, WeChat UnionID or WeCom id and open the 360° view')} />
      <Row justify="center">
        <Col xs={24} lg={16} xl={12}>
          <Card bordered={false} style={{ marginTop: 24 }}>
            <Space direction="vertical" style={{ width: '100%' }} size="large">
              <Typography.Title level={4} style={{ margin: 0 }}><IdcardOutlined /> {t('查找客户', 'Find a customer')}</Typography.Title>
              <Form layout="inline" onFinish={search} initialValues={{ type: 'phone' }} style={{ flexWrap: 'nowrap' }}>
                <Form.Item name="type" style={{ width: 200 }}>
                  <Select data-testid="lookup-type" options={[...types.map((x) => ({ value: x, label: name(x, 'id') })), { value: 'oneid', label: 'OneID' }]} />
                </Form.Item>
                <Form.Item name="value" style={{ flex: 1 }} rules={[{ required: true, message: t('请输入要查找的标识', 'Enter an identifier') }]}>
                  <Input allowClear placeholder={t('例如 13812345678 或 wmXXXX', 'e.g. 13812345678 or wmXXXX')} data-testid="lookup-value" />
                </Form.Item>
                <Form.Item style={{ marginRight: 0 }}>
                  <Button type="primary" htmlType="submit" icon={<SearchOutlined />} loading={busy} data-testid="lookup">{t('查找', 'Search')}</Button>
                </Form.Item>
              </Form>
              {error ? <ErrorAlert error={error} /> : null}
              <Typography.Text type="secondary">
                {t('手机号以明文输入，仅用于按加密哈希匹配，不会被保存或显示；画像中的手机号均已脱敏。', 'A phone is matched by its keyed hash and neither stored nor shown; phones in profiles are masked.')}
              </Typography.Text>
            </Space>
          </Card>
        </Col>
      </Row>
    </>
  );
}
