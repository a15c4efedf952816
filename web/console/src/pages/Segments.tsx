import { useEffect, useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { Button, Card, Table, Tag, Typography } from 'antd';
import { PlusOutlined } from '@ant-design/icons';
import { get, Segment } from '../api';
import { useAuth } from '../auth';
import { useTranslation } from 'react-i18next';
import { ErrorAlert, fmtInt, fmtTime, PageTitle } from '../components/common';

export default function Segments() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const { can } = useAuth();
  const [items, setItems] = useState<Segment[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get<{ items: Segment[] }>('/segments').then((r) => setItems(r.items)).catch(setError);
  }, []);
  return (
    <>
      <PageTitle title={t('common.segments')} sub={t('segments.audiencesBehaviourOrdersTraits')}
        extra={can('marketer') && <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate('/segments/new')} data-testid="new-segment">{t('common.newSegment')}</Button>} />
      {error ? <ErrorAlert error={error} /> : null}
      <Card bordered={false}>
        <Table rowKey="id" loading={!items && !error} dataSource={items ?? []} data-testid="segments-table"
          columns={[
            { title: t('common.name'), dataIndex: 'name', render: (v, r) => <><Link to={`/segments/${r.id}`}>{v}</Link><br /><Typography.Text type="secondary" style={{ fontSize: 12 }}>{r.description}</Typography.Text></> },
            { title: t('segments.members'), dataIndex: 'size', align: 'right', render: fmtInt, sorter: (a, b) => a.size - b.size },
            { title: t('segments.updates'), dataIndex: 'live', render: (v) => (v ? <Tag color="green">{t('segments.live')}</Tag> : <Tag>{t('segments.manual')}</Tag>) },
            { title: t('segments.version'), dataIndex: 'version' },
            { title: t('segments.computed'), dataIndex: 'computed_at', render: fmtTime },
            { title: t('segments.created'), dataIndex: 'created_by' },
          ]} />
      </Card>
    </>
  );
}
