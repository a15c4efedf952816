import { useState } from 'react';
import { Link } from 'react-router-dom';
import { Badge, Button, Empty, Popconfirm, Table, Tabs, Tag, Timeline, Tooltip, Typography } from 'antd';
import { ApiOutlined, MessageOutlined, ShoppingCartOutlined, UserAddOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import type { Merge, Profile } from '../../api';
import { useAuth } from '../../auth';
import { useName } from '../../i18n';
import { fmtInt, fmtTime, fmtYuan } from '../../components/common';

const kindIcon: Record<string, React.ReactNode> = { order: <ShoppingCartOutlined />, chat: <MessageOutlined />, wecom_contact: <UserAddOutlined />, event: <ApiOutlined /> };
const kindColor: Record<string, string> = { order: 'green', chat: 'blue', wecom_contact: 'purple', event: 'gray' };

// HistoryTabs: the person's timeline across channels, orders, WeCom chats,
// merges (which an admin may undo), campaigns and spend by channel.
export default function HistoryTabs({ p, undoing, onUnmerge }: { p: Profile; undoing: number | null; onUnmerge: (m: Merge) => void }) {
  const { t } = useTranslation();
  const name = useName();
  return (
    <Tabs items={[
      { key: 'timeline', label: t('profile.timeline'), children: <TimelineTab p={p} /> },
      { key: 'orders', label: `${t('common.orders')} (${(p.orders ?? []).length})`, children: (
        <Table rowKey={(r) => r.channel + r.order_id} size="small" dataSource={p.orders ?? []} pagination={{ pageSize: 10 }}
          columns={[
            { title: t('profile.ordered'), dataIndex: 'ordered_at', render: fmtTime },
            { title: t('common.channel'), dataIndex: 'channel', render: (v) => <Tag>{name(v)}</Tag> },
            { title: t('profile.items'), dataIndex: 'items', render: (v) => (v ?? []).join('、') },
            { title: t('profile.amount'), dataIndex: 'amount', align: 'right', render: fmtYuan },
            { title: t('common.city'), dataIndex: 'city' },
            { title: t('common.status'), dataIndex: 'status', render: (v) => name(v) },
          ]} />
      ) },
      { key: 'chats', label: `${t('profile.wecomChats')} (${(p.chats ?? []).length})`, children: <ChatsTab p={p} /> },
      { key: 'merges', label: <span data-testid="tab-merges">{t('profile.merges')} ({(p.merges ?? []).length})</span>, children: (
        <MergesTable merges={p.merges ?? []} undoing={undoing} onUnmerge={onUnmerge} />
      ) },
      { key: 'campaigns', label: `${t('profile.campaigns')} (${p.campaigns.length})`, children: (
        <Table rowKey="campaign_id" size="small" dataSource={p.campaigns} pagination={false}
          columns={[
            { title: t('profile.campaign'), dataIndex: 'name', render: (v, r) => <Link to={`/campaigns/${r.campaign_id}/results`}>{v}</Link> },
            { title: t('common.group'), dataIndex: 'group', render: (v) => <Tag color={v === 'treatment' ? 'blue' : v === 'holdout' ? 'default' : 'orange'}>{name(v)}</Tag> },
            { title: t('profile.reason'), dataIndex: 'reason', render: (v) => (v ? name(v) : '–') },
            { title: t('common.state'), dataIndex: 'state', render: (v) => name(v) },
            { title: t('profile.planned'), dataIndex: 'planned_at', render: fmtTime },
          ]} />
      ) },
      { key: 'channels', label: t('profile.channel'), children: (
        <Table rowKey="ch" size="small" pagination={false} dataSource={Object.entries(p.computed.by_channel || {}).map(([ch, v]) => ({ ch, ...v }))}
          columns={[
            { title: t('common.channel'), dataIndex: 'ch', render: (v) => name(v) },
            { title: t('common.orders'), dataIndex: 'orders', align: 'right', render: fmtInt },
            { title: t('profile.spend'), dataIndex: 'spend', align: 'right', render: fmtYuan },
          ]} />
      ) },
    ]} />
  );
}

// TimelineTab shows the newest 30 items, 50 more a click.
function TimelineTab({ p }: { p: Profile }) {
  const { t } = useTranslation();
  const name = useName();
  const [shownItems, setShownItems] = useState(30);
  const items = p.timeline ?? [];
  if (!items.length) return <Empty />;
  return (
    <><Timeline data-testid="timeline" items={items.slice(0, shownItems).map((e) => ({
      color: kindColor[e.kind] || 'gray', dot: kindIcon[e.kind],
      children: <><Typography.Text strong>{e.title.replace(/^[a-z_]+/, (w) => name(w))}</Typography.Text> <Tag>{name(e.channel)}</Tag><br />
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>{fmtTime(e.at)}{e.detail ? ' · ' + e.detail : ''}</Typography.Text></>,
    }))} />
    {items.length > shownItems && <Button block onClick={() => setShownItems((n) => n + 50)}>{t('profile.showMoreAll', { total: items.length })}</Button>}</>
  );
}

function ChatsTab({ p }: { p: Profile }) {
  const { t } = useTranslation();
  const chats = p.chats ?? [];
  if (!chats.length) return <Empty description={t('profile.noWecomChats')} />;
  return (
    <div style={{ maxHeight: 520, overflow: 'auto' }}>
      {chats.map((m, i) => (
        <div className="chat-line" key={i} style={{ alignItems: m.from_customer ? 'flex-start' : 'flex-end' }}>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>{m.from_customer ? t('profile.customer') : t('profile.staff') + m.from} · {fmtTime(m.at)}</Typography.Text>
          <div className={'chat-bubble' + (m.from_customer ? '' : ' staff')}>{m.content}</div>
        </div>
      ))}
    </div>
  );
}

// MergesTable lists the merges with their evidence; an admin may undo one.
function MergesTable({ merges, undoing, onUnmerge }: { merges: Merge[]; undoing: number | null; onUnmerge: (m: Merge) => void }) {
  const { t } = useTranslation();
  const name = useName();
  const { can } = useAuth();
  return (
    <Table rowKey="id" size="small" dataSource={merges} pagination={false} data-testid="merges"
      locale={{ emptyText: t('profile.noMerges') }}
      columns={[
        { title: '#', dataIndex: 'id' },
        { title: t('profile.when'), dataIndex: 'at', render: fmtTime },
        { title: t('profile.merged'), render: (_, m) => <>OneID {m.absorbed} → {m.survivor}</> },
        { title: t('profile.evidence'), render: (_, m) => <>{name(m.identifier.type, 'id')}: <Typography.Text code>{m.identifier.value}</Typography.Text></> },
        { title: t('profile.rule'), dataIndex: 'rule' },
        { title: t('common.action'), render: (_, m) => m.undone ? <Badge status="default" text={t('profile.undone') + (m.undone_by ? ` (${m.undone_by})` : '')} /> : can('admin') ? (
          <Popconfirm title={t('profile.undoMerge')} description={t('profile.absorbedIdentityBecomesSeparate')}
            onConfirm={() => onUnmerge(m)} okText={t('profile.unmerge')} cancelText={t('common.cancel')}>
            <Button size="small" danger loading={undoing === m.id}>{t('profile.unmerge')}</Button>
          </Popconfirm>
        ) : <Tooltip title={t('profile.onlyAdminsCanUnmerge')}><Button size="small" disabled>{t('profile.unmerge')}</Button></Tooltip> },
      ]} />
  );
}
