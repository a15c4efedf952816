import { useEffect, useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { Button, Card, Space, Table, Tag, Typography } from 'antd';
import { BarChartOutlined, EditOutlined, PlusOutlined } from '@ant-design/icons';
import { Campaign, get, Segment } from '../api';
import { useAuth } from '../auth';
import { useTranslation } from 'react-i18next';
import { useName } from '../i18n';
import { ErrorAlert, fmtTime, PageTitle } from '../components/common';

export const statusColor: Record<string, string> = { draft: 'default', running: 'processing', finished: 'success', cancelled: 'error', scheduled: 'warning' };

export default function Campaigns() {
  const { t } = useTranslation();
  const name = useName();
  const navigate = useNavigate();
  const { can } = useAuth();
  const [items, setItems] = useState<Campaign[] | null>(null);
  const [segs, setSegs] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get<{ items: Campaign[] }>('/campaigns').then((r) => setItems(r.items.sort((a, b) => (b.launched_at || '9').localeCompare(a.launched_at || '9')))).catch(setError);
    get<{ items: Segment[] }>('/segments').then((r) => setSegs(Object.fromEntries(r.items.map((s) => [s.id, s.name])))).catch(() => {});
  }, []);
  return (
    <>
      <PageTitle title={t('common.campaigns')} sub={t('campaigns.sendOffersSegmentsMeasure')}
        extra={can('marketer') && <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate('/campaigns/new')} data-testid="new-campaign">{t('campaigns.newCampaign')}</Button>} />
      {error ? <ErrorAlert error={error} /> : null}
      <Card bordered={false}>
        <Table rowKey="id" loading={!items && !error} dataSource={items ?? []} data-testid="campaigns-table"
          columns={[
            { title: t('common.campaign'), dataIndex: 'name', render: (v, r) => <Link to={r.status === 'draft' ? `/campaigns/${r.id}` : `/campaigns/${r.id}/results`}>{v}</Link> },
            { title: t('common.segment'), dataIndex: 'segment_id', render: (v) => (v ? <Link to={`/segments/${v}`}>{segs[v] || v}</Link> : <Typography.Text type="secondary">{t('common.any')}</Typography.Text>) },
            { title: t('common.channel'), className: 'nowrap', dataIndex: 'channel', render: (v, r) => <>{name(v)}{(r.targets ?? []).length > 0 && <Typography.Text type="secondary">（{(r.targets ?? []).join('、')}）</Typography.Text>}</> },
            { title: t('common.trigger'), className: 'nowrap', dataIndex: 'trigger', render: (v, r) => (
              <Space size={4} data-testid="campaign-trigger-cell">
                <Tag color={v === 'segment_entry' ? 'purple' : v === 'replenishment' ? 'gold' : v === 'demand_surge' ? 'volcano' : undefined} bordered={false}>{name(v || 'once')}</Tag>
                {r.status === 'scheduled' && r.start_at && <Typography.Text type="secondary" style={{ fontSize: 12 }}>{fmtTime(r.start_at)}</Typography.Text>}
              </Space>
            ) },
            { title: t('common.holdout'), className: 'nowrap', dataIndex: 'holdout_percent', render: (v) => v + '%' },
            { title: t('common.status'), className: 'nowrap', dataIndex: 'status', render: (v) => <Tag color={statusColor[v]}>{name(v)}</Tag> },
            { title: t('common.launched'), className: 'nowrap', dataIndex: 'launched_at', render: fmtTime },
            { title: t('campaigns.actions'), className: 'nowrap', render: (_, r) => (
              <Space>
                {r.status === 'draft' ? <Link to={`/campaigns/${r.id}`}><EditOutlined /> {t('campaigns.edit')}</Link> : <Link to={`/campaigns/${r.id}/results`}><BarChartOutlined /> {t('campaigns.results')}</Link>}
              </Space>
            ) },
          ]} />
      </Card>
    </>
  );
}
