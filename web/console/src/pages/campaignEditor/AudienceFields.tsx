import { Button, Col, Form, Row, Select, Slider, Space, Tooltip, Typography } from 'antd';
import { PlusOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import type { Offer, Segment } from '../../api';
import { fmtInt } from '../../components/common';
import { groupChannels } from './model';

// AudienceFields choose whom a campaign is for and what it offers: the
// offer (or a new one), the segment (optional for replenishment and robot
// campaigns), and the holdout and global control shares kept out of it.
export default function AudienceFields({ offers, segments, onNewOffer }: { offers: Offer[]; segments: Segment[]; onNewOffer: () => void }) {
  const { t } = useTranslation();
  const form = Form.useFormInstance();
  const offerId: string = Form.useWatch('offer_id', form);
  const segmentId: string = Form.useWatch('segment_id', form);
  const channel: string = Form.useWatch('channel', form) || 'outbox';
  const trigger: string = Form.useWatch('trigger', form) || 'once';
  const offer = offers.find((o) => o.id === offerId);
  const segment = segments.find((s) => s.id === segmentId);
  const group = groupChannels.includes(channel);
  const segmentOptional = trigger === 'replenishment' || group;
  const segmentExtra = segment
    ? `${t('campaignEditor.now')} ${fmtInt(segment.size)} ${t('common.people')}${trigger === 'segment_entry' && !segment.live ? t('campaignEditor.notLiveEntriesCome') : ''}`
    : segmentOptional ? (channel === 'robot' ? t('campaignEditor.robotsNeedNoSegment') : group ? t('campaignEditor.groupsNeedNoSegment') : t('campaignEditor.leaveEmptyEveryHousehold')) : undefined;
  return (
    <>
      <Row gutter={16}>
        <Col span={12}>
          <Form.Item label={t('common.offer')} required>
            <Space.Compact style={{ width: '100%' }}>
              <Form.Item name="offer_id" noStyle rules={[{ required: true, message: t('campaignEditor.chooseOfferRequired') }]}>
                <Select placeholder={t('campaignEditor.chooseOfferPlaceholder')} options={offers.map((o) => ({ value: o.id, label: o.name }))} data-testid="offer-select" />
              </Form.Item>
              <Tooltip title={t('campaignEditor.newOffer')}><Button icon={<PlusOutlined />} onClick={onNewOffer} data-testid="new-offer" /></Tooltip>
            </Space.Compact>
            {offer && <Typography.Text type="secondary" style={{ fontSize: 12 }}>{t('campaignEditor.converts')}{[...(offer.categories ?? []), ...(offer.skus ?? [])].join('、')}</Typography.Text>}
          </Form.Item>
        </Col>
        <Col span={12}>
          <Form.Item name="segment_id" label={segmentOptional ? t('campaignEditor.segmentOptional') : t('common.segment')}
            rules={segmentOptional ? [] : [{ required: true, message: trigger === 'segment_entry' ? t('campaignEditor.segmentEntryCampaignNeeds') : t('campaignEditor.chooseSegment') }]}
            extra={segmentExtra}>
            <Select placeholder={t('common.chooseSegment')} showSearch allowClear={segmentOptional} optionFilterProp="label" options={segments.map((s) => ({ value: s.id, label: s.name }))} data-testid="segment-select" />
          </Form.Item>
        </Col>
      </Row>
      <Row gutter={48}>
        <Col span={12}>
          <Form.Item name="holdout_percent" label={t('campaignEditor.holdout')} tooltip={t('campaignEditor.randomShareNotSent')}>
            <Slider min={0} max={50} disabled={group || undefined} marks={{ 0: '0%', 10: '10%', 20: '20%', 50: '50%' }} tooltip={{ formatter: (v) => `${v}%` }} />
          </Form.Item>
        </Col>
        <Col span={12}>
          <Form.Item name="global_control_percent" label={t('campaignEditor.globalControl')} tooltip={t('campaignEditor.shareCustomersNoCampaign')}>
            <Slider min={0} max={20} disabled={group || undefined} marks={{ 0: '0%', 5: '5%', 20: '20%' }} tooltip={{ formatter: (v) => `${v}%` }} />
          </Form.Item>
        </Col>
      </Row>
    </>
  );
}
