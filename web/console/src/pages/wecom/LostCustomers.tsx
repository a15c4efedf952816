import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { Card, Input, Select, Space, Table, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { get, LostCustomer } from '../../api';
import { ErrorAlert, fmtTime } from '../../components/common';
import { filterLost, lostQuery } from './model';

const lossStatuses = ['pending', 'posting', 'sent', 'failed', 'unconfirmed', 'off'] as const;
const lossColor: Record<string, string> = { pending: 'processing', posting: 'processing', sent: 'success', failed: 'error', unconfirmed: 'warning', off: 'default' };

// LostCustomers lists the customers who deleted a staff member or whom a
// staff member deleted (contact_lost events), newest first, with the
// status of the alert to the staff member's manager; narrowed by alert
// status (by the server), by who ended it and by a userid.
export default function LostCustomers() {
  const { t } = useTranslation();
  const [statuses, setStatuses] = useState<string[]>([]);
  const [who, setWho] = useState('');
  const [changeType, setChangeType] = useState<string | undefined>();
  const [items, setItems] = useState<LostCustomer[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setItems(null);
    setError(null);
    get<{ items: LostCustomer[] }>(lostQuery(statuses)).then((r) => setItems(r.items)).catch(setError);
  }, [statuses]);
  const shown = filterLost(items ?? [], { who, change_type: changeType });
  return (
    <Card bordered={false} title={t('wecom.lost.title')}>
      <Space wrap style={{ marginBottom: 16 }} data-testid="lost-filters">
        <Select mode="multiple" allowClear style={{ minWidth: 240 }} placeholder={t('wecom.lost.alertStatus')} value={statuses} onChange={setStatuses}
          options={lossStatuses.map((s) => ({ value: s, label: t(`wecom.lost.status.${s}`) }))} data-testid="lost-status" />
        <Select allowClear style={{ width: 200 }} placeholder={t('wecom.lost.by')} value={changeType} onChange={setChangeType}
          options={['del_follow_user', 'del_external_contact'].map((c) => ({ value: c, label: t(`wecom.lost.change.${c}` as 'wecom.lost.change.del_follow_user') }))} />
        <Input.Search allowClear style={{ width: 240 }} placeholder={t('wecom.lost.search')} onSearch={setWho} onChange={(e) => !e.target.value && setWho('')} />
      </Space>
      {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
      <Table rowKey="key" loading={!items && !error} dataSource={shown} size="small" data-testid="lost-table"
        columns={[
          { title: t('wecom.lost.lostAt'), className: 'nowrap', render: (_, l) => fmtTime(l.lost_at) },
          { title: t('wecom.lost.by'), className: 'nowrap', render: (_, l) => t(`wecom.lost.change.${l.change_type}` as 'wecom.lost.change.del_follow_user', { defaultValue: l.change_type }) },
          { title: t('wecom.staff'), dataIndex: 'staff_userid' },
          { title: t('wecom.customer'), render: (_, l) => l.person_id ? <Link to={`/profiles/${l.person_id}`}>{l.external_userid}</Link> : l.external_userid },
          { title: t('wecom.lost.manager'), render: (_, l) => l.manager || <Typography.Text type="secondary">{t('wecom.lost.noManager')}</Typography.Text> },
          { title: t('wecom.lost.alertStatus'), className: 'nowrap', render: (_, l) => <Tag color={lossColor[l.status]}>{t(`wecom.lost.status.${l.status}` as 'wecom.lost.status.off', { defaultValue: l.status })}</Tag> },
          { title: t('wecom.welcome.error'), render: (_, l) => l.error ? <Typography.Text type="danger">{l.error}</Typography.Text> : null },
        ]} />
      <Typography.Paragraph type="secondary" style={{ marginTop: 12, marginBottom: 0 }}>{t('wecom.lost.help')}</Typography.Paragraph>
    </Card>
  );
}
