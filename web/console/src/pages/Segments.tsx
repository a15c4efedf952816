import { useEffect, useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { Button, Card, Table, Tag, Typography } from 'antd';
import { PlusOutlined } from '@ant-design/icons';
import { get, Segment } from '../api';
import { useAuth } from '../auth';
import { useT } from '../i18n';
import { ErrorAlert, fmtInt, fmtTime, PageTitle } from '../components/common';

export default function Segments() {
  const t = useT();
  const navigate = useNavigate();
  const { can } = useAuth();
  const [items, setItems] = useState<Segment[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get<{ items: Segment[] }>('/segments').then((r) => setItems(r.items)).catch(setError);
  }, []);
  return (
    <>
      <PageTitle title={t('人群圈选', 'Segments')} sub={t('按行为、交易与属性圈选的目标人群，实时更新成员', 'Audiences by behaviour, orders and traits, kept current live')}
        extra={can('marketer') && <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate('/segments/new')} data-testid="new-segment">{t('新建人群', 'New segment')}</Button>} />
      {error ? <ErrorAlert error={error} /> : null}
      <Card bordered={false}>
        <Table rowKey="id" loading={!items && !error} dataSource={items ?? []} data-testid="segments-table"
          columns={[
            { title: t('人群名称', 'Name'), dataIndex: 'name', render: (v, r) => <><Link to={`/segments/${r.id}`}>{v}</Link><br /><Typography.Text type="secondary" style={{ fontSize: 12 }}>{r.description}</Typography.Text></> },
            { title: t('人数', 'Members'), dataIndex: 'size', align: 'right', render: fmtInt, sorter: (a, b) => a.size - b.size },
            { title: t('更新方式', 'Updates'), dataIndex: 'live', render: (v) => (v ? <Tag color="green">{t('实时', 'live')}</Tag> : <Tag>{t('手动', 'manual')}</Tag>) },
            { title: t('版本', 'Version'), dataIndex: 'version' },
            { title: t('计算时间', 'Computed'), dataIndex: 'computed_at', render: fmtTime },
            { title: t('创建人', 'Created by'), dataIndex: 'created_by' },
          ]} />
      </Card>
    </>
  );
}
