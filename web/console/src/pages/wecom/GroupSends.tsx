import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { Card, Empty, Space, Statistic, Table, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { Campaign, get, GroupSend, WeComGroup } from '../../api';
import { ErrorAlert, fmtTime } from '../../components/common';
import { countByState } from './model';

const sendColor: Record<string, string> = {
  sending: 'processing', unsent: 'processing', sent: 'blue', delivered: 'success', capped: 'warning', skipped: 'default', not_sent: 'default', failed: 'error',
};

// GroupSends shows the group mass messages: the campaigns on the
// wecom_group channel, each linked to its results, and for the chosen one
// (?campaign=<id> in the link) every customer group it went to with its
// latest state (GET /campaigns/{id}/group-sends).
export default function GroupSends() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const [campaigns, setCampaigns] = useState<Campaign[] | null>(null);
  const [groups, setGroups] = useState<Record<string, WeComGroup>>({});
  const [sends, setSends] = useState<GroupSend[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get<{ items: Campaign[] }>('/campaigns').then((r) => setCampaigns(r.items.filter((c) => c.channel === 'wecom_group'))).catch(setError);
    get<{ items: WeComGroup[] }>('/wecom/groups').then((r) => setGroups(Object.fromEntries(r.items.map((g) => [g.chat_id, g])))).catch(() => {});
  }, []);
  const chosen = params.get('campaign') ?? campaigns?.[0]?.id ?? '';
  useEffect(() => {
    if (!chosen) return;
    setSends(null);
    get<{ items: GroupSend[] }>(`/campaigns/${encodeURIComponent(chosen)}/group-sends`).then((r) => setSends(r.items)).catch(setError);
  }, [chosen]);
  const campaign = campaigns?.find((c) => c.id === chosen);
  return (
    <>
      <Card bordered={false} title={t('wecom.groupSend.campaigns')} style={{ marginBottom: 16 }}
        extra={<Link to="/campaigns/new">{t('wecom.groupSend.newCampaign')}</Link>}>
        {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
        <Table rowKey="id" loading={!campaigns && !error} dataSource={campaigns ?? []} size="small" pagination={false} data-testid="group-campaigns"
          locale={{ emptyText: <Empty description={t('wecom.groupSend.none')} /> }}
          rowClassName={(c) => (c.id === chosen ? 'ant-table-row-selected' : '')}
          onRow={(c) => ({ onClick: () => setParams((p) => { p.set('campaign', c.id); return p; }), style: { cursor: 'pointer' } })}
          columns={[
            { title: t('common.campaign'), render: (_, c) => <Link to={`/campaigns/${c.id}/results`} onClick={(e) => e.stopPropagation()}>{c.name}</Link> },
            { title: t('common.status'), className: 'nowrap', render: (_, c) => t(`names.${c.status}` as 'names.draft', { defaultValue: c.status }) },
            { title: t('wecom.groupSend.targets'), render: (_, c) => (c.targets ?? []).map((id) => id === 'all' ? t('wecom.groupSend.allGroups') : groups[id]?.name || id).join('、') },
            { title: t('common.launched'), className: 'nowrap', render: (_, c) => fmtTime(c.launched_at) },
          ]} />
        <Typography.Paragraph type="secondary" style={{ marginTop: 12, marginBottom: 0 }}>{t('wecom.groupSend.help')}</Typography.Paragraph>
      </Card>
      {campaign && (
        <Card bordered={false} title={t('wecom.groupSend.groupsOf', { name: campaign.name })}>
          <Space size={32} wrap style={{ marginBottom: 16 }} data-testid="group-send-counts">
            {countByState(sends ?? []).map(({ state, count }) => (
              <Statistic key={state} title={t(`wecom.groupSend.state.${state}` as 'wecom.groupSend.state.sent', { defaultValue: state })} value={count} />
            ))}
          </Space>
          <Table rowKey={(s) => s.task_id + s.chat_id} loading={!sends} dataSource={sends ?? []} size="small" data-testid="group-sends-table"
            columns={[
              { title: t('wecom.groups.name'), render: (_, s) => groups[s.chat_id]?.name || <Typography.Text code>{s.chat_id}</Typography.Text> },
              { title: t('wecom.groups.owner'), dataIndex: 'owner' },
              { title: t('wecom.groupSend.day'), className: 'nowrap', render: (_, s) => s.day.slice(0, 10) },
              { title: t('common.status'), className: 'nowrap', render: (_, s) => <Tag color={sendColor[s.state]}>{t(`wecom.groupSend.state.${s.state}` as 'wecom.groupSend.state.sent', { defaultValue: s.state })}</Tag> },
              { title: t('wecom.updated'), className: 'nowrap', render: (_, s) => fmtTime(s.at) },
            ]} />
        </Card>
      )}
    </>
  );
}
