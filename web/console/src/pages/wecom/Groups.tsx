import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { Alert, Card, Checkbox, Input, Table, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { get, WeComGroup } from '../../api';
import { ErrorAlert, fmtInt, fmtTime } from '../../components/common';
import { groupRule } from './model';

const ownerColor: Record<number, string> = { 0: 'success', 1: 'warning', 2: 'processing', 3: 'default' };

// Groups lists the WeCom customer groups (客户群) as last read, with their
// owner, member and customer counts, and the rule that selects a group's
// customers (tag("wecom_group:<name>")); how to send into them is a group
// mass-message campaign (the group mass-send tab).
export default function Groups() {
  const { t } = useTranslation();
  const [items, setItems] = useState<WeComGroup[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [withDismissed, setWithDismissed] = useState(false);
  const [q, setQ] = useState('');
  useEffect(() => {
    get<{ items: WeComGroup[] }>('/wecom/groups').then((r) => setItems(r.items)).catch(setError);
  }, []);
  const needle = q.trim().toLowerCase();
  const shown = (items ?? []).filter((g) => (withDismissed || !g.dismissed) && (!needle || g.name.toLowerCase().includes(needle) || g.owner.toLowerCase().includes(needle)));
  return (
    <Card bordered={false} title={t('wecom.groups.title')}
      extra={<>
        <Input.Search allowClear style={{ width: 220, marginRight: 12 }} placeholder={t('wecom.groups.search')} onSearch={setQ} onChange={(e) => !e.target.value && setQ('')} />
        <Checkbox checked={withDismissed} onChange={(e) => setWithDismissed(e.target.checked)}>{t('wecom.groups.withDismissed')}</Checkbox>
      </>}>
      <Alert type="info" showIcon style={{ marginBottom: 16 }} data-testid="groups-help"
        message={t('wecom.groups.inRules')}
        description={<>
          {t('wecom.groups.inRulesHelp')} <Typography.Text code>{groupRule('大米福利群')}</Typography.Text>
          {' '}{t('wecom.groups.sendHelp')} <Link to="/wecom?tab=group-sends">{t('wecom.tabs.groupSends')}</Link>
        </>} />
      {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
      <Table rowKey="chat_id" loading={!items && !error} dataSource={shown} size="small" data-testid="groups-table"
        columns={[
          { title: t('wecom.groups.name'), render: (_, g) => <>{g.name || <Typography.Text type="secondary">{t('wecom.groups.unnamed')}</Typography.Text>}{g.dismissed && <Tag style={{ marginLeft: 8 }}>{t('wecom.groups.dismissed')}</Tag>}</> },
          { title: t('wecom.groups.owner'), dataIndex: 'owner' },
          { title: t('wecom.groups.ownerStatus'), className: 'nowrap', render: (_, g) => <Tag color={ownerColor[g.status]}>{t(`wecom.groups.status.${g.status}` as 'wecom.groups.status.0', { defaultValue: String(g.status) })}</Tag> },
          { title: t('wecom.groups.members'), className: 'nowrap', sorter: (a, b) => a.members - b.members, render: (_, g) => fmtInt(g.members) },
          { title: t('wecom.groups.customers'), className: 'nowrap', sorter: (a, b) => a.customers - b.customers, render: (_, g) => fmtInt(g.customers) },
          { title: t('wecom.ruleName'), render: (_, g) => g.name && !g.dismissed ? <Typography.Text code copyable>{groupRule(g.name)}</Typography.Text> : null },
          { title: t('wecom.readAt'), className: 'nowrap', render: (_, g) => fmtTime(g.read_at) },
        ]} />
    </Card>
  );
}
