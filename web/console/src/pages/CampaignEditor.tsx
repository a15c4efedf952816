import { useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { Button, Card, Col, Divider, Form, Input, Popconfirm, Row, Space, Steps, Tag, Typography } from 'antd';
import { EyeOutlined, RocketOutlined, SaveOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { useAuth } from '../auth';
import { useName } from '../i18n';
import { ErrorAlert, PageTitle } from '../components/common';
import { followChannel, FormValues, initialValues } from './campaignEditor/model';
import { useCampaignChoices, useCampaignEditor } from './campaignEditor/useCampaignEditor';
import ChannelFields from './campaignEditor/ChannelFields';
import AudienceFields from './campaignEditor/AudienceFields';
import DeliveryFields from './campaignEditor/DeliveryFields';
import TemplateField from './campaignEditor/TemplateField';
import OfferModal from './campaignEditor/OfferModal';
import { MessagePreview, SendPlan } from './campaignEditor/PlanCards';

// CampaignEditor sets up a draft campaign, previews its plan and launches
// it: steps set up → preview → launch. The form's sections, the offer
// dialog and the plan cards are in ./campaignEditor; loading, saving,
// previewing and launching in its useCampaignEditor.
export default function CampaignEditor() {
  const { t } = useTranslation();
  const name = useName();
  const { id } = useParams();
  const { can } = useAuth();
  const [form] = Form.useForm<FormValues>();
  const ed = useCampaignEditor(id, form);
  const { offers, addOffer, segments, chans } = useCampaignChoices(ed.setError);
  const [offerOpen, setOfferOpen] = useState(false);
  const template: string = Form.useWatch('template', form) || '';
  const offerId: string | undefined = Form.useWatch('offer_id', form);
  const trigger: string = Form.useWatch('trigger', form) || 'once';
  const schedule: string = Form.useWatch('schedule', form) || 'now';

  const editable = can('marketer');
  const step = ed.launching ? 2 : ed.preview ? 1 : 0;
  const templates = { standard: t('campaignEditor.helloNameStaffHere'), wecom: t('campaignEditor.helloStaffHereOffer') };
  const onValuesChange = (changed: FormValues) => {
    ed.stale();
    followChannel(changed, form, templates);
  };
  return (
    <>
      <PageTitle title={ed.camp ? <>{ed.camp.name} <Tag>{name(ed.camp.status)}</Tag></> : t('campaignEditor.newCampaign')}
        sub={t('campaignEditor.pickOfferSegmentSet')}
        extra={<Link to="/campaigns">{t('common.backCampaigns')}</Link>} />
      <Card bordered={false} style={{ marginBottom: 16 }}>
        <Steps current={step} items={[
          { title: t('campaignEditor.setUp') },
          { title: t('campaignEditor.previewPlan') },
          { title: t('campaignEditor.launch'), description: ed.launching ? t('campaignEditor.writingPlanWaitingServer') : undefined },
        ]} />
      </Card>
      {ed.error ? <ErrorAlert error={ed.error} style={{ marginBottom: 16 }} /> : null}
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={14}>
          <Card bordered={false}>
            <Form form={form} layout="vertical" disabled={!editable || ed.launching} initialValues={initialValues(templates.standard)} onValuesChange={onValuesChange}>
              <Form.Item name="name" label={t('campaignEditor.campaignName')} rules={[{ required: true, message: t('campaignEditor.nameRequired') }, { max: 100 }]}>
                <Input placeholder={t('campaignEditor.eGLowGi')} data-testid="campaign-name" />
              </Form.Item>
              <ChannelFields chans={chans} />
              <AudienceFields offers={offers} segments={segments} onNewOffer={() => setOfferOpen(true)} />
              <DeliveryFields chans={chans} />
              <TemplateField />
            </Form>
            <Divider style={{ margin: '8px 0 16px' }} />
            <Space>
              <Button icon={<SaveOutlined />} loading={ed.saving && !ed.previewing} onClick={ed.save} disabled={!editable || ed.launching} data-testid="save-campaign">{t('campaignEditor.saveDraft')}</Button>
              <Button icon={<EyeOutlined />} loading={ed.previewing} onClick={ed.doPreview} disabled={!editable || ed.launching} data-testid="preview-campaign">{t('campaignEditor.previewPlanButton')}</Button>
              <Popconfirm title={t('campaignEditor.launchCampaign')} description={t('campaignEditor.messagesGoOutPlanned')}
                onConfirm={ed.launch} okText={t('campaignEditor.launchConfirm')} cancelText={t('common.cancel')} okButtonProps={{ 'data-testid': 'confirm-launch' } as any} disabled={!ed.preview}>
                <Button type="primary" icon={<RocketOutlined />} loading={ed.launching} disabled={!editable || !ed.preview} data-testid="launch-campaign">
                  {ed.launching ? t('campaignEditor.launching') : schedule === 'later' ? t('campaignEditor.scheduleButton') : t('campaignEditor.launchTitle')}
                </Button>
              </Popconfirm>
              {!ed.preview && editable && <Typography.Text type="secondary">{t('campaignEditor.previewPlanBeforeLaunching')}</Typography.Text>}
            </Space>
          </Card>
        </Col>
        <Col xs={24} xl={10}>
          <MessagePreview template={template} offer={offers.find((o) => o.id === offerId)} />
          <SendPlan preview={ed.preview} previewing={ed.previewing} trigger={trigger} />
        </Col>
      </Row>
      <OfferModal open={offerOpen} onClose={() => setOfferOpen(false)} onCreated={(o) => {
        addOffer(o);
        form.setFieldValue('offer_id', o.id);
        setOfferOpen(false);
      }} />
    </>
  );
}
