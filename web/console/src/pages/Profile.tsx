import { useCallback, useEffect, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { App, Badge, Button, Card, Col, Descriptions, Empty, List, Popconfirm, Row, Skeleton, Space, Statistic, Table, Tabs, Tag, Timeline, Tooltip, Typography } from 'antd';
import { ApiOutlined, MessageOutlined, ShoppingCartOutlined, UserAddOutlined, BranchesOutlined, LockOutlined } from '@ant-design/icons';
import { get, post } from '../api';
import type { Merge, Profile as ProfileT } from '../api';
import { useAuth } from '../auth';
import { useTranslation } from 'react-i18next';
import { useName } from '../i18n';
import { ErrorAlert, fmtDate, fmtInt, fmtTime, fmtYuan, PageTitle } from '../components/common';


export default function Profile() {
  const { t } = useTranslation();
  const name = useName();
  const { id } = useParams();
  const { message } = App.useApp();
  const { can } = useAuth();
  const [p, setP] = useState<ProfileT | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [undoing, setUndoing] = useState<number | null>(null);
  const [shownItems, setShownItems] = useState(30);
  const load = useCallback(() => {
    setError(null);
    get<ProfileT>('/profiles/' + id).then(setP).catch(setError);
  }, [id]);
  useEffect(load, [load]);

  const unmerge = async (m: Merge) => {
    setUndoing(m.id);
    try {
      await post(`/merges/${m.id}/unmerge`);
      message.success(t('profile.mergeUndoneOneidSplit', { id: m.id, absorbed: m.absorbed }));
      load();
    } catch (e) {
      setError(e);
    } finally {
      setUndoing(null);
    }
  };

  if (error && !p) return <ErrorAlert error={error} />;
  if (!p) return <Skeleton active avatar paragraph={{ rows: 12 }} />;
  const c = p.computed;
  const traits = (p.traits || {}) as Record<string, any>; // free-form JSON
  const kindIcon: Record<string, React.ReactNode> = { order: <ShoppingCartOutlined />, chat: <MessageOutlined />, wecom_contact: <UserAddOutlined />, event: <ApiOutlined /> };
  const kindColor: Record<string, string> = { order: 'green', chat: 'blue', wecom_contact: 'purple', event: 'gray' };
  return (
    <>
      <PageTitle title={<Space>{traits.name || t('profile.customer')} <Tag color="blue" data-testid="profile-oneid">OneID {p.person_id}</Tag>{p.persons.length > 1 && <Tag icon={<BranchesOutlined />}>{t('profile.idsMerged', { ids: p.persons.length })}</Tag>}</Space>}
        sub={t('profile.profileTimelineAcrossChannels')}
        extra={<Link to="/profiles">{t('profile.findAnotherCustomer')}</Link>} />
      {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={8}>
          <Card bordered={false} title={t('profile.identifiers')} extra={<Tooltip title={can('marketer')
            ? t('profile.phonesShowTheirLast')
            : t('profile.personalIdentifiersMaskedPhones')}><LockOutlined /></Tooltip>}>
            <List size="small" dataSource={p.identifiers} data-testid="identifiers" renderItem={(i) => (
              <List.Item extra={i.contested && <Tag color="orange">{t('profile.contested')}</Tag>}>
                <List.Item.Meta title={<Typography.Text copyable={!i.masked}>{i.value}{i.masked && <LockOutlined style={{ marginLeft: 6, color: '#999' }} />}</Typography.Text>} description={`${name(i.type, 'id')} · ${fmtDate(i.linked_at)}`} />
              </List.Item>
            )} />
          </Card>
          <Card bordered={false} title={t('profile.value')} style={{ marginTop: 16 }}>
            <Row gutter={[8, 16]}>
              <Col span={12}><Statistic title={t('common.lifetimeValue')} value={fmtYuan(c.lifetime_value)} /></Col>
              <Col span={12}><Statistic title={t('profile.orders')} value={c.orders} /></Col>
              <Col span={12}><Statistic title={t('profile.avgOrder')} value={fmtYuan(c.average_order_value)} /></Col>
              <Col span={12}><Statistic title={t('profile.rfmScore')} value={c.rfm?.score || '–'} /></Col>
            </Row>
            <Descriptions size="small" column={1} style={{ marginTop: 16 }}>
              <Descriptions.Item label={t('profile.repurchaseEvery')}>{c.repurchase_interval_days ? `${c.repurchase_interval_days.toFixed(1)} ${t('common.days')}` : '–'}</Descriptions.Item>
              <Descriptions.Item label={t('profile.nextRicePurchase')}>{fmtDate(c.next_rice_purchase)}</Descriptions.Item>
              <Descriptions.Item label={t('profile.nextOilPurchase')}>{fmtDate(c.next_oil_purchase)}</Descriptions.Item>
              <Descriptions.Item label={t('profile.acquiredVia')}>{c.acquisition_channel || '–'}</Descriptions.Item>
              <Descriptions.Item label={t('profile.owningStaff')}>{c.owner_staff || '–'}</Descriptions.Item>
              <Descriptions.Item label={t('profile.topics')}>{(c.top_topics ?? []).map((x) => <Tag key={x}>{x}</Tag>)}</Descriptions.Item>
              <Descriptions.Item label={t('profile.recentCategories')}>{(c.last_categories ?? []).map((x) => <Tag key={x} color="gold">{x}</Tag>)}</Descriptions.Item>
              <Descriptions.Item label={t('profile.firstLastSeen')}>{fmtDate(c.first_seen)} / {fmtDate(c.last_seen)}</Descriptions.Item>
            </Descriptions>
          </Card>
          <Card bordered={false} title={t('profile.segments')} style={{ marginTop: 16 }}>
            {p.segments.length ? p.segments.map((s) => <Tag key={s.id} color="blue" style={{ marginBottom: 6 }}><Link to={`/segments/${s.id}`}>{s.name}</Link></Tag>) : <Typography.Text type="secondary">{t('profile.noSegment')}</Typography.Text>}
          </Card>
        </Col>
        <Col xs={24} xl={16}>
          <Card bordered={false}>
            <Tabs items={[
              { key: 'timeline', label: t('profile.timeline'), children: (p.timeline ?? []).length ? (
                <><Timeline data-testid="timeline" items={(p.timeline ?? []).slice(0, shownItems).map((e) => ({
                  color: kindColor[e.kind] || 'gray', dot: kindIcon[e.kind],
                  children: <><Typography.Text strong>{e.title.replace(/^[a-z_]+/, (w) => name(w))}</Typography.Text> <Tag>{name(e.channel)}</Tag><br />
                    <Typography.Text type="secondary" style={{ fontSize: 12 }}>{fmtTime(e.at)}{e.detail ? ' · ' + e.detail : ''}</Typography.Text></>,
                }))} />
                {(p.timeline ?? []).length > shownItems && <Button block onClick={() => setShownItems((n) => n + 50)}>{t('profile.showMoreAll', { total: (p.timeline ?? []).length })}</Button>}</>
              ) : <Empty /> },
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
              { key: 'chats', label: `${t('profile.wecomChats')} (${(p.chats ?? []).length})`, children: (p.chats ?? []).length ? (
                <div style={{ maxHeight: 520, overflow: 'auto' }}>
                  {(p.chats ?? []).map((m, i) => (
                    <div className="chat-line" key={i} style={{ alignItems: m.from_customer ? 'flex-start' : 'flex-end' }}>
                      <Typography.Text type="secondary" style={{ fontSize: 12 }}>{m.from_customer ? t('profile.customer') : t('profile.staff') + m.from} · {fmtTime(m.at)}</Typography.Text>
                      <div className={'chat-bubble' + (m.from_customer ? '' : ' staff')}>{m.content}</div>
                    </div>
                  ))}
                </div>
              ) : <Empty description={t('profile.noWecomChats')} /> },
              { key: 'merges', label: <span data-testid="tab-merges">{t('profile.merges')} ({(p.merges ?? []).length})</span>, children: (
                <Table rowKey="id" size="small" dataSource={p.merges ?? []} pagination={false} data-testid="merges"
                  locale={{ emptyText: t('profile.noMerges') }}
                  columns={[
                    { title: '#', dataIndex: 'id' },
                    { title: t('profile.when'), dataIndex: 'at', render: fmtTime },
                    { title: t('profile.merged'), render: (_, m) => <>OneID {m.absorbed} → {m.survivor}</> },
                    { title: t('profile.evidence'), render: (_, m) => <>{name(m.identifier.type, 'id')}: <Typography.Text code>{m.identifier.value}</Typography.Text></> },
                    { title: t('profile.rule'), dataIndex: 'rule' },
                    { title: t('common.action'), render: (_, m) => m.undone ? <Badge status="default" text={t('profile.undone') + (m.undone_by ? ` (${m.undone_by})` : '')} /> : can('admin') ? (
                      <Popconfirm title={t('profile.undoMerge')} description={t('profile.absorbedIdentityBecomesSeparate')}
                        onConfirm={() => unmerge(m)} okText={t('profile.unmerge')} cancelText={t('common.cancel')}>
                        <Button size="small" danger loading={undoing === m.id}>{t('profile.unmerge')}</Button>
                      </Popconfirm>
                    ) : <Tooltip title={t('profile.onlyAdminsCanUnmerge')}><Button size="small" disabled>{t('profile.unmerge')}</Button></Tooltip> },
                  ]} />
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
                <Table rowKey="ch" size="small" pagination={false} dataSource={Object.entries(c.by_channel || {}).map(([ch, v]) => ({ ch, ...v }))}
                  columns={[
                    { title: t('common.channel'), dataIndex: 'ch', render: (v) => name(v) },
                    { title: t('common.orders'), dataIndex: 'orders', align: 'right', render: fmtInt },
                    { title: t('profile.spend'), dataIndex: 'spend', align: 'right', render: fmtYuan },
                  ]} />
              ) },
            ]} />
          </Card>
        </Col>
      </Row>
    </>
  );
}
