import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { Button, Card, Table, Tag } from 'antd';
import { PlusOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { get, Journey } from '../api';
import { ErrorAlert, fmtTime, PageTitle } from '../components/common';
import { useAuth } from '../auth';

export const journeyStatusColor: Record<string, string> = { draft: 'default', running: 'processing', paused: 'warning', stopped: 'error' };

// Journeys lists the journeys: their entry, steps, version and status;
// each links to its detail with live per-node counts and to its canvas; a
// marketer starts a new one on the canvas.
export default function Journeys() {
  const { t } = useTranslation();
  const [items, setItems] = useState<Journey[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const { can } = useAuth();
  useEffect(() => {
    get<{ items: Journey[] }>('/journeys').then((r) => setItems(r.items)).catch(setError);
  }, []);
  return (
    <>
      <PageTitle title={t('common.journeys')} sub={t('journeys.subtitle')}
        extra={can('marketer') && <Link to="/journeys/new"><Button type="primary" icon={<PlusOutlined />} data-testid="new-journey">{t('journeyEditor.new')}</Button></Link>} />
      {error ? <ErrorAlert error={error} /> : null}
      <Card bordered={false}>
        <Table rowKey="id" loading={!items && !error} dataSource={items ?? []} data-testid="journeys-table"
          columns={[
            { title: t('journeys.journey'), dataIndex: 'name', render: (v, r) => <Link to={`/journeys/${r.id}`}>{v}</Link> },
            { title: t('journeys.entry'), className: 'nowrap', render: (_, r) => t(`journeys.entryType.${r.entry.type}` as 'journeys.entryType.segment') },
            { title: t('journeys.steps'), className: 'nowrap', render: (_, r) => r.nodes.length },
            { title: t('journeys.version'), className: 'nowrap', dataIndex: 'version' },
            { title: t('common.holdout'), className: 'nowrap', render: (_, r) => r.settings.holdout_percent + '%' },
            { title: t('common.status'), className: 'nowrap', dataIndex: 'status', render: (v) => <Tag color={journeyStatusColor[v]}>{t(`journeys.status.${v}` as 'journeys.status.draft')}</Tag> },
            { title: t('common.launched'), className: 'nowrap', dataIndex: 'launched_at', render: fmtTime },
            { title: '', className: 'nowrap', render: (_, r) => <Link to={`/journeys/${r.id}/edit`}>{t('journeyEditor.canvas')}</Link> },
          ]} />
      </Card>
    </>
  );
}
