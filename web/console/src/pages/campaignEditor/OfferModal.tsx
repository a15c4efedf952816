import { useState } from 'react';
import { DatePicker, Form, Input, Modal, Select } from 'antd';
import type { Dayjs } from 'dayjs';
import { useTranslation } from 'react-i18next';
import { Offer, post } from '../../api';
import { ErrorAlert } from '../../components/common';
import { zeroTime } from './model';

interface OfferValues { name: string; categories?: string[]; skus?: string[]; link?: string; valid?: [Dayjs | null, Dayjs | null] }

// OfferModal creates an offer without leaving the campaign: its name, the
// categories and SKUs whose purchase counts as a conversion, a link and a
// validity period.
export default function OfferModal({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (o: Offer) => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<OfferValues>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const create = async () => {
    const v = await form.validateFields();
    setBusy(true);
    setError(null);
    try {
      const o = await post<Offer>('/offers', {
        name: v.name, categories: v.categories ?? [], skus: v.skus ?? [], link: v.link || '',
        valid_from: v.valid?.[0]?.toISOString() ?? zeroTime, valid_to: v.valid?.[1]?.toISOString() ?? zeroTime,
      });
      onCreated(o);
      form.resetFields();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal open={open} title={t('campaignEditor.newOffer')} onCancel={onClose} onOk={create} confirmLoading={busy} okText={t('common.create')} cancelText={t('common.cancel')}>
      <Form form={form} layout="vertical">
        <Form.Item name="name" label={t('campaignEditor.name')} rules={[{ required: true }]}><Input placeholder={t('campaignEditor.lowGiRiceTrial')} data-testid="offer-name" /></Form.Item>
        <Form.Item name="categories" label={t('campaignEditor.convertingCategories')} tooltip={t('campaignEditor.buyingTheseCountsConversion')}>
          <Select mode="tags" placeholder={t('campaignEditor.typePressEnter')} options={['低GI大米', '五常大米', '高油酸花生油', '花生油', '小包装油'].map((v) => ({ value: v }))} data-testid="offer-categories" />
        </Form.Item>
        <Form.Item name="skus" label="SKU"><Select mode="tags" /></Form.Item>
        <Form.Item name="link" label={t('campaignEditor.link')}><Input placeholder="https://" /></Form.Item>
        <Form.Item name="valid" label={t('campaignEditor.valid')}><DatePicker.RangePicker style={{ width: '100%' }} /></Form.Item>
      </Form>
      {error ? <ErrorAlert error={error} /> : null}
    </Modal>
  );
}
