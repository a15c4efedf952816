import { useCallback, useEffect, useState } from 'react';
import { Button, Card, Checkbox, Form, Input, Radio, Table, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { CustomerTransfer, get, post } from '../../api';
import { useAuth } from '../../auth';
import { ErrorAlert, fmtTime } from '../../components/common';
import { maxTransferCustomers, maxTransferMessageChars, splitIds } from './model';

const transferColor: Record<string, string> = { requested: 'processing', waiting: 'processing', done: 'success', refused: 'error', limit_exceeded: 'warning', no_record: 'default', failed: 'error' };

type Values = { kind: 'on_job' | 'resigned'; handover_userid: string; takeover_userid: string; customers: string; message?: string };

// Transfers hands customers from one staff member to another (离职继承 for
// a departed staff member's, or an on-the-job transfer the customer is
// asked about) and lists each customer's transfer with WeCom's state.
export default function Transfers() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const [form] = Form.useForm<Values>();
  const kind = Form.useWatch('kind', form);
  const [open, setOpen] = useState(false);
  const [items, setItems] = useState<CustomerTransfer[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saveErr, setSaveErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const load = useCallback(() => {
    get<{ items: CustomerTransfer[] }>('/wecom/transfers?limit=500' + (open ? '&open=true' : '')).then((r) => setItems(r.items)).catch(setError);
  }, [open]);
  useEffect(load, [load]);
  const create = async (v: Values) => {
    setBusy(true);
    setSaveErr(null);
    try {
      await post('/wecom/transfers', { kind: v.kind, handover_userid: v.handover_userid.trim(), takeover_userid: v.takeover_userid.trim(),
        external_userids: splitIds(v.customers), message: v.kind === 'on_job' ? (v.message ?? '').trim() : '' });
      form.resetFields();
      load();
    } catch (e) {
      setSaveErr(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      {can('marketer') && (
        <Card bordered={false} title={t('wecom.transfer.new')} style={{ marginBottom: 16 }}>
          <Form form={form} layout="vertical" initialValues={{ kind: 'resigned' }} onFinish={create} style={{ maxWidth: 720 }} data-testid="transfer-form">
            <Form.Item name="kind" label={t('wecom.transfer.kind')}>
              <Radio.Group options={[{ value: 'resigned', label: t('wecom.transfer.kinds.resigned') }, { value: 'on_job', label: t('wecom.transfer.kinds.on_job') }]} />
            </Form.Item>
            <Form.Item name="handover_userid" label={t('wecom.transfer.handover')} rules={[{ required: true, whitespace: true, message: t('wecom.transfer.handoverRequired') }]}>
              <Input />
            </Form.Item>
            <Form.Item name="takeover_userid" label={t('wecom.transfer.takeover')} dependencies={['handover_userid']}
              rules={[{ required: true, whitespace: true, message: t('wecom.transfer.takeoverRequired') },
                ({ getFieldValue }) => ({ validator: (_, v: string) => ((v ?? '').trim() && v.trim() === (getFieldValue('handover_userid') ?? '').trim() ? Promise.reject(new Error(t('wecom.transfer.samePerson'))) : Promise.resolve()) })]}>
              <Input />
            </Form.Item>
            <Form.Item name="customers" label={t('wecom.transfer.customers')} extra={t('wecom.transfer.customersHelp', { max: maxTransferCustomers })}
              rules={[{ validator: (_, v: string) => { const n = splitIds(v).length; return n === 0 ? Promise.reject(new Error(t('wecom.transfer.customersRequired'))) : n > maxTransferCustomers ? Promise.reject(new Error(t('wecom.transfer.customersHelp', { max: maxTransferCustomers }))) : Promise.resolve(); } }]}>
              <Input.TextArea rows={3} />
            </Form.Item>
            {kind === 'on_job' && (
              <Form.Item name="message" label={t('wecom.transfer.message')} extra={t('wecom.transfer.messageHelp')}>
                <Input.TextArea rows={2} maxLength={maxTransferMessageChars} showCount />
              </Form.Item>
            )}
            <Button type="primary" htmlType="submit" loading={busy} data-testid="create-transfer">{t('wecom.transfer.submit')}</Button>
          </Form>
          {saveErr ? <ErrorAlert error={saveErr} style={{ marginTop: 16 }} /> : null}
        </Card>
      )}
      <Card bordered={false} title={t('wecom.transfer.title')} extra={<Checkbox checked={open} onChange={(e) => setOpen(e.target.checked)}>{t('wecom.transfer.onlyOpen')}</Checkbox>}>
        {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
        <Table rowKey={(r) => r.transfer_id + r.external_userid} loading={!items && !error} dataSource={items ?? []} size="small" data-testid="transfers-table"
          columns={[
            { title: t('wecom.transfer.requestedAt'), className: 'nowrap', render: (_, r) => fmtTime(r.requested_at) },
            { title: t('wecom.transfer.kind'), className: 'nowrap', render: (_, r) => t(`wecom.transfer.kinds.${r.kind}` as 'wecom.transfer.kinds.on_job', { defaultValue: r.kind }) },
            { title: t('wecom.transfer.handover'), dataIndex: 'handover_userid' },
            { title: t('wecom.transfer.takeover'), dataIndex: 'takeover_userid' },
            { title: t('wecom.customer'), dataIndex: 'external_userid' },
            { title: t('common.status'), className: 'nowrap', render: (_, r) => <Tag color={transferColor[r.status]}>{t(`wecom.transfer.status.${r.status}` as 'wecom.transfer.status.done', { defaultValue: r.status })}{r.errcode ? ` (${r.errcode})` : ''}</Tag> },
            { title: t('wecom.transfer.takeoverAt'), className: 'nowrap', render: (_, r) => fmtTime(r.takeover_at) },
          ]} />
        <Typography.Paragraph type="secondary" style={{ marginTop: 12, marginBottom: 0 }}>{t('wecom.transfer.help')}</Typography.Paragraph>
      </Card>
    </>
  );
}
