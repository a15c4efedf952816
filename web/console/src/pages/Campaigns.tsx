import { useEffect, useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { Button, Card, Space, Table, Tag, Typography } from 'antd';
import { BarChartOutlined, EditOutlined, PlusOutlined } from '@ant-design/icons';
import { Campaign, get, Segment } from '../api';
import { useAuth } from '../auth';
import { useName, useT } from '../i18n';
import { ErrorAlert, fmtTime, PageTitle } from '../components/common';

export const statusColor: Record<string, string> = { draft: 'default', running: 'processing', finished: 'success', cancelled: 'error', scheduled: 'warning' };

export default function Campaigns() {
  const t = useT();
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
      <PageTitle title={t('营销活动', 'Campaigns')} sub={t('向人群发送优惠，保留对照组衡量真实提升', 'Send offers to segments and measure the true uplift against a holdout')}
        extra={can('marketer') && <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate('/campaigns/new')} data-testid="new-campaign">{t('创建活动', 'New campaign')}</Button>} />
      {error ? <ErrorAlert error={error} /> : null}
      <Card bordered={false}>
        <Table rowKey="id" loading={!items && !error} dataSource={items ?? []} data-testid="campaigns-table"
          columns={[
            { title: t('活动名称', 'Campaign'), dataIndex: 'name', render: (v, r) => <Link to={r.status === 'draft' ? `/campaigns/${r.id}` : `/campaigns/${r.id}/results`}>{v}</Link> },
            { title: t('目标人群', 'Segment'), dataIndex: 'segment_id', render: (v) => (v ? <Link to={`/segments/${v}`}>{segs[v] || v}</Link> : <Typography.Text type="secondary">{t('不限', 'Any')}</Typography.Text>) },
            { title: t('渠道', 'Channel'), className: 'nowrap', dataIndex: 'channel', render: (v, r) => <>{name(v)}{(r.targets ?? []).length > 0 && <Typography.Text type="secondary">（{(r.targets ?? []).join('、')}）</Typography.Text>}</> },
            { title: t('触发方式', 'Trigger'), className: 'nowrap', dataIndex: 'trigger', render: (v, r) => (
              <Space size={4} data-testid="campaign-trigger-cell">
                <Tag color={v === 'segment_entry' ? 'purple' : v === 'replenishment' ? 'gold' : undefined} bordered={false}>{name(v || 'once')}</Tag>
                {r.status === 'scheduled' && r.start_at && <Typography.Text type="secondary" style={{ fontSize: 12 }}>{fmtTime(r.start_at)}</Typography.Text>}
              </Space>
            ) },
            { title: t('对照组', 'Holdout'), className: 'nowrap', dataIndex: 'holdout_percent', render: (v) => v + '%' },
            { title: t('状态', 'Status'), className: 'nowrap', dataIndex: 'status', render: (v) => <Tag color={statusColor[v]}>{name(v)}</Tag> },
            { title: t('启动时间', 'Launched'), className: 'nowrap', dataIndex: 'launched_at', render: fmtTime },
            { title: t('操作', 'Actions'), className: 'nowrap', render: (_, r) => (
              <Space>
                {r.status === 'draft' ? <Link to={`/campaigns/${r.id}`}><EditOutlined /> {t('编辑', 'Edit')}</Link> : <Link to={`/campaigns/${r.id}/results`}><BarChartOutlined /> {t('效果', 'Results')}</Link>}
              </Space>
            ) },
          ]} />
      </Card>
    </>
  );
}
