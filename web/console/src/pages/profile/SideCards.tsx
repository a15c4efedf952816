import { Link } from 'react-router-dom';
import { Card, Col, Descriptions, List, Row, Statistic, Tag, Tooltip, Typography } from 'antd';
import { LockOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import type { Profile } from '../../api';
import { useAuth } from '../../auth';
import { useName } from '../../i18n';
import { fmtDate, fmtYuan } from '../../components/common';

// SideCards: a person's identifiers (masked as the role may see them), the
// value and predictions computed from their orders, and their segments.
export default function SideCards({ p }: { p: Profile }) {
  const { t } = useTranslation();
  const name = useName();
  const { can } = useAuth();
  const c = p.computed;
  return (
    <>
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
    </>
  );
}
