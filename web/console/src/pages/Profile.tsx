import { useCallback, useEffect, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { App, Badge, Button, Card, Col, Descriptions, Empty, List, Popconfirm, Row, Skeleton, Space, Statistic, Table, Tabs, Tag, Timeline, Tooltip, Typography } from 'antd';
import { ApiOutlined, MessageOutlined, ShoppingCartOutlined, UserAddOutlined, BranchesOutlined, LockOutlined } from '@ant-design/icons';
import { get, post } from '../api';
import type { Merge, Profile as ProfileT } from '../api';
import { useAuth } from '../auth';
import { useName, useT } from '../i18n';
import { ErrorAlert, fmtDate, fmtInt, fmtTime, fmtYuan, PageTitle } from '../components/common';


export default function Profile() {
  const t = useT();
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
      message.success(t(`已撤销合并 #${m.id}，OneID ${m.absorbed} 已拆分`, `Merge #${m.id} undone; OneID ${m.absorbed} split off`));
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
      <PageTitle title={<Space>{traits.name || t('客户', 'Customer')} <Tag color="blue" data-testid="profile-oneid">OneID {p.person_id}</Tag>{p.persons.length > 1 && <Tag icon={<BranchesOutlined />}>{t(`由 ${p.persons.length} 个身份合并`, `${p.persons.length} ids merged`)}</Tag>}</Space>}
        sub={t('360° 用户画像 · 跨渠道时间线、订单、企微聊天与身份合并记录', '360° profile · timeline across channels, orders, WeCom chats and merges')}
        extra={<Link to="/profiles">{t('查找其他客户', 'Find another customer')}</Link>} />
      {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={8}>
          <Card bordered={false} title={t('身份标识', 'Identifiers')} extra={<Tooltip title={can('marketer')
            ? t('手机号只显示后 4 位，邮箱已脱敏', 'Phones show their last 4 digits; e-mails are masked')
            : t('个人标识均已脱敏：手机号只显示后 4 位', 'Personal identifiers are masked; phones show their last 4 digits')}><LockOutlined /></Tooltip>}>
            <List size="small" dataSource={p.identifiers} data-testid="identifiers" renderItem={(i) => (
              <List.Item extra={i.contested && <Tag color="orange">{t('共用/受限', 'contested')}</Tag>}>
                <List.Item.Meta title={<Typography.Text copyable={!i.masked}>{i.value}{i.masked && <LockOutlined style={{ marginLeft: 6, color: '#999' }} />}</Typography.Text>} description={`${name(i.type, 'id')} · ${fmtDate(i.linked_at)}`} />
              </List.Item>
            )} />
          </Card>
          <Card bordered={false} title={t('客户价值', 'Value')} style={{ marginTop: 16 }}>
            <Row gutter={[8, 16]}>
              <Col span={12}><Statistic title={t('累计消费（LTV）', 'Lifetime value')} value={fmtYuan(c.lifetime_value)} /></Col>
              <Col span={12}><Statistic title={t('订单数', 'Orders')} value={c.orders} /></Col>
              <Col span={12}><Statistic title={t('客单价', 'Avg. order')} value={fmtYuan(c.average_order_value)} /></Col>
              <Col span={12}><Statistic title={t('RFM 评分', 'RFM score')} value={c.rfm?.score || '–'} /></Col>
            </Row>
            <Descriptions size="small" column={1} style={{ marginTop: 16 }}>
              <Descriptions.Item label={t('复购周期', 'Repurchase every')}>{c.repurchase_interval_days ? `${c.repurchase_interval_days.toFixed(1)} ${t('天', 'days')}` : '–'}</Descriptions.Item>
              <Descriptions.Item label={t('预计下次买米', 'Next rice purchase')}>{fmtDate(c.next_rice_purchase)}</Descriptions.Item>
              <Descriptions.Item label={t('预计下次买油', 'Next oil purchase')}>{fmtDate(c.next_oil_purchase)}</Descriptions.Item>
              <Descriptions.Item label={t('获客渠道', 'Acquired via')}>{c.acquisition_channel || '–'}</Descriptions.Item>
              <Descriptions.Item label={t('专属顾问', 'Owning staff')}>{c.owner_staff || '–'}</Descriptions.Item>
              <Descriptions.Item label={t('关注话题', 'Topics')}>{(c.top_topics ?? []).map((x) => <Tag key={x}>{x}</Tag>)}</Descriptions.Item>
              <Descriptions.Item label={t('最近品类', 'Recent categories')}>{(c.last_categories ?? []).map((x) => <Tag key={x} color="gold">{x}</Tag>)}</Descriptions.Item>
              <Descriptions.Item label={t('首次 / 最近活跃', 'First / last seen')}>{fmtDate(c.first_seen)} / {fmtDate(c.last_seen)}</Descriptions.Item>
            </Descriptions>
          </Card>
          <Card bordered={false} title={t('所属人群', 'Segments')} style={{ marginTop: 16 }}>
            {p.segments.length ? p.segments.map((s) => <Tag key={s.id} color="blue" style={{ marginBottom: 6 }}><Link to={`/segments/${s.id}`}>{s.name}</Link></Tag>) : <Typography.Text type="secondary">{t('不在任何人群中', 'In no segment')}</Typography.Text>}
          </Card>
        </Col>
        <Col xs={24} xl={16}>
          <Card bordered={false}>
            <Tabs items={[
              { key: 'timeline', label: t('跨渠道时间线', 'Timeline'), children: (p.timeline ?? []).length ? (
                <><Timeline data-testid="timeline" items={(p.timeline ?? []).slice(0, shownItems).map((e) => ({
                  color: kindColor[e.kind] || 'gray', dot: kindIcon[e.kind],
                  children: <><Typography.Text strong>{e.title.replace(/^[a-z_]+/, (w) => name(w))}</Typography.Text> <Tag>{name(e.channel)}</Tag><br />
                    <Typography.Text type="secondary" style={{ fontSize: 12 }}>{fmtTime(e.at)}{e.detail ? ' · ' + e.detail : ''}</Typography.Text></>,
                }))} />
                {(p.timeline ?? []).length > shownItems && <Button block onClick={() => setShownItems((n) => n + 50)}>{t(`显示更多（共 ${(p.timeline ?? []).length} 条）`, `Show more (${(p.timeline ?? []).length} in all)`)}</Button>}</>
              ) : <Empty /> },
              { key: 'orders', label: `${t('订单', 'Orders')} (${(p.orders ?? []).length})`, children: (
                <Table rowKey={(r) => r.channel + r.order_id} size="small" dataSource={p.orders ?? []} pagination={{ pageSize: 10 }}
                  columns={[
                    { title: t('下单时间', 'Ordered'), dataIndex: 'ordered_at', render: fmtTime },
                    { title: t('渠道', 'Channel'), dataIndex: 'channel', render: (v) => <Tag>{name(v)}</Tag> },
                    { title: t('商品', 'Items'), dataIndex: 'items', render: (v) => (v ?? []).join('、') },
                    { title: t('金额', 'Amount'), dataIndex: 'amount', align: 'right', render: fmtYuan },
                    { title: t('城市', 'City'), dataIndex: 'city' },
                    { title: t('状态', 'Status'), dataIndex: 'status', render: (v) => name(v) },
                  ]} />
              ) },
              { key: 'chats', label: `${t('企微聊天', 'WeCom chats')} (${(p.chats ?? []).length})`, children: (p.chats ?? []).length ? (
                <div style={{ maxHeight: 520, overflow: 'auto' }}>
                  {(p.chats ?? []).map((m, i) => (
                    <div className="chat-line" key={i} style={{ alignItems: m.from_customer ? 'flex-start' : 'flex-end' }}>
                      <Typography.Text type="secondary" style={{ fontSize: 12 }}>{m.from_customer ? t('客户', 'Customer') : t('顾问 ', 'Staff ') + m.from} · {fmtTime(m.at)}</Typography.Text>
                      <div className={'chat-bubble' + (m.from_customer ? '' : ' staff')}>{m.content}</div>
                    </div>
                  ))}
                </div>
              ) : <Empty description={t('没有企微聊天记录', 'No WeCom chats')} /> },
              { key: 'merges', label: <span data-testid="tab-merges">{t('合并记录', 'Merges')} ({(p.merges ?? []).length})</span>, children: (
                <Table rowKey="id" size="small" dataSource={p.merges ?? []} pagination={false} data-testid="merges"
                  locale={{ emptyText: t('没有合并记录', 'No merges') }}
                  columns={[
                    { title: '#', dataIndex: 'id' },
                    { title: t('时间', 'When'), dataIndex: 'at', render: fmtTime },
                    { title: t('合并', 'Merged'), render: (_, m) => <>OneID {m.absorbed} → {m.survivor}</> },
                    { title: t('依据', 'Evidence'), render: (_, m) => <>{name(m.identifier.type, 'id')}: <Typography.Text code>{m.identifier.value}</Typography.Text></> },
                    { title: t('规则', 'Rule'), dataIndex: 'rule' },
                    { title: t('操作', 'Action'), render: (_, m) => m.undone ? <Badge status="default" text={t('已撤销', 'undone') + (m.undone_by ? ` (${m.undone_by})` : '')} /> : can('admin') ? (
                      <Popconfirm title={t('撤销这次合并？', 'Undo this merge?')} description={t('被合并的身份会拆分为独立客户，相关记录重新归属。', 'The absorbed identity becomes a separate customer again; its records move with it.')}
                        onConfirm={() => unmerge(m)} okText={t('撤销合并', 'Unmerge')} cancelText={t('取消', 'Cancel')}>
                        <Button size="small" danger loading={undoing === m.id}>{t('撤销合并', 'Unmerge')}</Button>
                      </Popconfirm>
                    ) : <Tooltip title={t('仅管理员可撤销合并', 'Only admins can unmerge')}><Button size="small" disabled>{t('撤销合并', 'Unmerge')}</Button></Tooltip> },
                  ]} />
              ) },
              { key: 'campaigns', label: `${t('营销触达', 'Campaigns')} (${p.campaigns.length})`, children: (
                <Table rowKey="campaign_id" size="small" dataSource={p.campaigns} pagination={false}
                  columns={[
                    { title: t('活动', 'Campaign'), dataIndex: 'name', render: (v, r) => <Link to={`/campaigns/${r.campaign_id}/results`}>{v}</Link> },
                    { title: t('分组', 'Group'), dataIndex: 'group', render: (v) => <Tag color={v === 'treatment' ? 'blue' : v === 'holdout' ? 'default' : 'orange'}>{name(v)}</Tag> },
                    { title: t('原因', 'Reason'), dataIndex: 'reason', render: (v) => (v ? name(v) : '–') },
                    { title: t('状态', 'State'), dataIndex: 'state', render: (v) => name(v) },
                    { title: t('计划时间', 'Planned'), dataIndex: 'planned_at', render: fmtTime },
                  ]} />
              ) },
              { key: 'channels', label: t('渠道贡献', 'By channel'), children: (
                <Table rowKey="ch" size="small" pagination={false} dataSource={Object.entries(c.by_channel || {}).map(([ch, v]) => ({ ch, ...v }))}
                  columns={[
                    { title: t('渠道', 'Channel'), dataIndex: 'ch', render: (v) => name(v) },
                    { title: t('订单', 'Orders'), dataIndex: 'orders', align: 'right', render: fmtInt },
                    { title: t('消费', 'Spend'), dataIndex: 'spend', align: 'right', render: fmtYuan },
                  ]} />
              ) },
            ]} />
          </Card>
        </Col>
      </Row>
    </>
  );
}
