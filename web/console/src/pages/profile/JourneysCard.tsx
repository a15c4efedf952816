import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { Card, List, Space, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { get, JourneyPlace } from '../../api';
import { fmtTime } from '../../components/common';

// JourneysCard lists the person's journey runs: the node they are at and
// until when they wait, or how the run ended.
export default function JourneysCard({ person }: { person: number }) {
  const { t } = useTranslation();
  const [items, setItems] = useState<JourneyPlace[] | null>(null);
  useEffect(() => {
    get<{ items: JourneyPlace[] }>(`/profiles/${person}/journeys`).then((r) => setItems(r.items)).catch(() => setItems([]));
  }, [person]);
  if (!items || items.length === 0) return null;
  return (
    <Card bordered={false} title={t('common.journeys')} style={{ marginTop: 16 }} data-testid="profile-journeys">
      <List size="small" dataSource={items} renderItem={(r) => (
        <List.Item>
          <Space direction="vertical" size={0}>
            <Link to={`/journeys/${r.journey_id}`}>{r.name || r.journey_id}</Link>
            <Typography.Text type="secondary">
              {r.state === 'done'
                ? t('journeys.endedAt', { node: r.node, reason: r.exit_reason })
                : r.state === 'waiting' ? t('journeys.waitingAt', { node: r.node, until: fmtTime(r.wake_at) }) : t('journeys.at', { node: r.node })}
            </Typography.Text>
          </Space>
          <Tag bordered={false}>{fmtTime(r.entered_at)}</Tag>
        </List.Item>
      )} />
    </Card>
  );
}
