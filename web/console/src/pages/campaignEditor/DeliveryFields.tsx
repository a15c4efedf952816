import { Col, DatePicker, Form, InputNumber, Radio, Row, Select, Space, Typography } from 'antd';
import dayjs, { Dayjs } from 'dayjs';
import { useTranslation } from 'react-i18next';
import type { ChannelSettings } from '../../api';
import { triggered } from './model';

const hours = Array.from({ length: 24 }, (_, h) => ({ value: h, label: `${String(h).padStart(2, '0')}:00` }));

// DeliveryFields limit and time the sending: frequency caps across all
// campaigns, the send limit, the attribution window, quiet hours, and when
// it starts (and, for an automation, ends).
export default function DeliveryFields({ chans }: { chans: ChannelSettings | null }) {
  const { t } = useTranslation();
  const form = Form.useFormInstance();
  const channel: string = Form.useWatch('channel', form) || 'outbox';
  const trigger: string = Form.useWatch('trigger', form) || 'once';
  const auto = triggered(trigger);
  return (
    <>
      <Form.Item label={t('campaignEditor.capsPerPersonAll')} style={{ marginBottom: 0 }} tooltip={t('campaignEditor.peopleWhoAlreadyGot')}>
        <Row gutter={16}>
          <Col span={8}><Form.Item name="cap_per_day"><InputNumber min={0} max={10} addonBefore={t('campaignEditor.day')} addonAfter={t('campaignEditor.msgs')} style={{ width: '100%' }} data-testid="cap-day" /></Form.Item></Col>
          <Col span={8}><Form.Item name="cap_per_week"><InputNumber min={0} max={14} addonBefore={t('campaignEditor.week')} addonAfter={t('campaignEditor.msgs')} style={{ width: '100%' }} data-testid="cap-week" /></Form.Item></Col>
          <Col span={8}><Form.Item name="cap_per_month"><InputNumber min={0} max={60} addonBefore={t('campaignEditor.month')} addonAfter={t('campaignEditor.msgs')} style={{ width: '100%' }} data-testid="cap-month" /></Form.Item></Col>
        </Row>
      </Form.Item>
      {channel === 'wecom' && chans && (
        <Typography.Paragraph type="secondary" style={{ fontSize: 12, marginTop: -8 }}>
          {t('campaignEditor.wecomAlsoLetsEach', { wecom_daily_cap: chans.wecom_daily_cap })}
        </Typography.Paragraph>
      )}
      <Row gutter={16}>
        <Col span={8}>
          <Form.Item name="send_limit" label={t('campaignEditor.sendLimit')} tooltip={auto ? t('campaignEditor.totalSendsAutomationMay') : t('campaignEditor.noLimit')}><InputNumber min={0} style={{ width: '100%' }} /></Form.Item>
        </Col>
        <Col span={8}>
          <Form.Item name="attribution_days" label={t('campaignEditor.attribution')}><InputNumber min={1} max={90} addonAfter={t('common.days')} style={{ width: '100%' }} /></Form.Item>
        </Col>
        <Col span={8}>
          <Form.Item label={t('campaignEditor.quietHours')} tooltip={auto ? t('campaignEditor.automationsHoldSendsDuring') : t('campaignEditor.sendingOnceExcludesPeople')}>
            <Space.Compact>
              <Form.Item name="quiet_start" noStyle><Select options={hours} style={{ width: 84 }} virtual={false} listHeight={260} /></Form.Item>
              <Form.Item name="quiet_end" noStyle><Select options={hours} style={{ width: 84 }} virtual={false} listHeight={260} /></Form.Item>
            </Space.Compact>
          </Form.Item>
        </Col>
      </Row>
      <ScheduleFields auto={auto} />
    </>
  );
}

// ScheduleFields: start at launch or at a set time; an automation may end.
function ScheduleFields({ auto }: { auto: boolean }) {
  const { t } = useTranslation();
  const form = Form.useFormInstance();
  const schedule: string = Form.useWatch('schedule', form) || 'now';
  const notBeforeToday = (d: Dayjs) => d.isBefore(dayjs().startOf('day'));
  return (
    <Row gutter={16}>
      <Col span={auto ? 14 : 24}>
        <Form.Item label={t('campaignEditor.schedule')} required={schedule === 'later'}>
          <Space wrap>
            <Form.Item name="schedule" noStyle>
              <Radio.Group data-testid="schedule">
                <Radio value="now">{auto ? t('campaignEditor.startLaunch') : t('campaignEditor.sendLaunch')}</Radio>
                <Radio value="later">{t('campaignEditor.setTime')}</Radio>
              </Radio.Group>
            </Form.Item>
            {schedule === 'later' && (
              <Form.Item name="start_at" noStyle rules={[{ required: true, message: t('campaignEditor.chooseStart') }]}>
                <DatePicker showTime={{ format: 'HH:mm' }} format="YYYY-MM-DD HH:mm" placeholder={t('campaignEditor.start')} data-testid="start-at" disabledDate={notBeforeToday} />
              </Form.Item>
            )}
          </Space>
          {schedule === 'later' && <div><Typography.Text type="secondary" style={{ fontSize: 12 }}>{t('campaignEditor.afterLaunchCampaignScheduled')}</Typography.Text></div>}
        </Form.Item>
      </Col>
      {auto && (
        <Col span={10}>
          <Form.Item name="end_at" label={t('campaignEditor.endOptional')} tooltip={t('campaignEditor.automationStopsThenCampaign')}
            dependencies={['start_at', 'schedule']}
            rules={[({ getFieldValue }) => ({ validator: (_, v: Dayjs | undefined) => {
              const start: Dayjs | undefined = getFieldValue('schedule') === 'later' ? getFieldValue('start_at') : undefined;
              return !v || !start || v.isAfter(start) ? Promise.resolve() : Promise.reject(new Error(t('campaignEditor.endMustAfterStart')));
            } })]}>
            <DatePicker showTime={{ format: 'HH:mm' }} format="YYYY-MM-DD HH:mm" placeholder={t('campaignEditor.noneRunsUntilStopped')} style={{ width: '100%' }} data-testid="end-at"
              disabledDate={notBeforeToday} />
          </Form.Item>
        </Col>
      )}
    </Row>
  );
}
