import { Alert, Form, Input, Space, Tag, Tooltip } from 'antd';
import { useTranslation } from 'react-i18next';
import { perPersonVars, templateVars, wecomTemplated } from './model';

// TemplateField edits the message template; its variables are inserted by
// clicking them. On WeCom the per-person ones are off, and a template that
// still has one is flagged (the API refuses it on save).
export default function TemplateField() {
  const { t } = useTranslation();
  const form = Form.useFormInstance();
  const channel: string = Form.useWatch('channel', form) || 'outbox';
  const wecom = wecomTemplated.includes(channel);
  const varHelp: Record<string, string> = {
    name: t('campaignEditor.customerNameWecom'), staff: t('campaignEditor.owningStaffMember'), offer: t('campaignEditor.offerName'),
    link: t('campaignEditor.offerLink'), coupon: t('campaignEditor.oneCouponCodePer'),
  };
  const insert = (v: string) => form.setFieldValue('template', (form.getFieldValue('template') || '') + `{{${v}}}`);
  return (
    <>
      {wecom && (
        <Alert type="info" showIcon style={{ marginBottom: 12 }} data-testid="wecom-template-hint"
          message={t('campaignEditor.wecomMassMessagesOne')}
          description={t('campaignEditor.soTemplateMayUse')} />
      )}
      <Form.Item name="template" label={t('campaignEditor.messageTemplate')}
        rules={[{ required: true, message: t('campaignEditor.templateRequired') },
          { warningOnly: true, validator: (_, v: string) => (wecom && perPersonVars.some((x) => (v || '').includes(`{{${x}}}`))
            ? Promise.reject(new Error(t('campaignEditor.wecomCannotUseName')))
            : Promise.resolve()) }]}
        extra={<Space wrap size={4}>{t('campaignEditor.insert')}{templateVars.map((v) => {
          const off = wecom && perPersonVars.includes(v);
          return (
            <Tooltip key={v} title={off ? t('campaignEditor.wecomMassMessageOne') : varHelp[v]}>
              <Tag color={off ? 'default' : 'blue'} style={{ cursor: off ? 'not-allowed' : 'pointer', opacity: off ? 0.55 : 1 }}
                onClick={() => !off && insert(v)}>{`{{${v}}}`}</Tag>
            </Tooltip>
          );
        })}</Space>}>
        <Input.TextArea autoSize={{ minRows: 3, maxRows: 6 }} data-testid="template" />
      </Form.Item>
    </>
  );
}
