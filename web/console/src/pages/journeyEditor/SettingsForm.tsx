import { Checkbox, Form, Input, InputNumber, Select, Space } from 'antd';
import { useTranslation } from 'react-i18next';
import type { JourneySettings, Offer } from '../../api';
import { OfferSelect, Row } from './fields';

// SettingsForm edits the journey's name and its journey-level rules: the
// goal offer and exit on conversion, re-entry, holdout, caps and quiet
// hours (the rules campaigns obey, applied to every send).
export default function SettingsForm({ name, settings, offers, onName, onChange }: {
  name: string; settings: JourneySettings; offers: Offer[]; onName: (v: string) => void; onChange: (s: JourneySettings) => void;
}) {
  const { t } = useTranslation();
  const set = (p: Partial<JourneySettings>) => onChange({ ...settings, ...p });
  const num = (k: keyof JourneySettings, min: number, max: number) => (
    <InputNumber min={min} max={max} value={settings[k] as number} onChange={(v) => set({ [k]: v ?? 0 })} />
  );
  return (
    <Form layout="vertical" size="small">
      <Row label={t('journeys.journey')}>
        <Input data-testid="journey-name" value={name} maxLength={100} onChange={(e) => onName(e.target.value)} />
      </Row>
      <Row label={t('journeyEditor.goalOffer')} hint={t('journeyEditor.goalHint')}>
        <OfferSelect testid="goal-offer" offers={offers} value={settings.goal_offer_id} onChange={(v) => set({ goal_offer_id: v })} />
      </Row>
      <Checkbox checked={settings.exit_on_conversion} onChange={(e) => set({ exit_on_conversion: e.target.checked })}>{t('journeyEditor.exitOnConversion')}</Checkbox>
      <Checkbox checked={settings.exit_on_segment_exit} onChange={(e) => set({ exit_on_segment_exit: e.target.checked })} style={{ marginBottom: 12 }}>
        {t('journeyEditor.exitOnSegmentExit')}
      </Checkbox>
      <Space wrap>
        <Row label={t('journeyEditor.reEntry')}>
          <Select style={{ width: 150 }} value={settings.re_entry} onChange={(v) => set({ re_entry: v })}
            options={['never', 'after_exit', 'after_days'].map((v) => ({ value: v, label: t(`journeyEditor.reEntryKind.${v}` as 'journeyEditor.reEntryKind.never') }))} />
        </Row>
        {settings.re_entry === 'after_days' && <Row label={t('journeyEditor.reEntryDays')}>{num('re_entry_days', 1, 3650)}</Row>}
        <Row label={t('journeyEditor.holdoutPercent')}>{num('holdout_percent', 0, 50)}</Row>
        <Row label={t('journeyEditor.attributionDays')}>{num('attribution_days', 0, 90)}</Row>
        <Row label={t('journeyEditor.capPerWeek')}>{num('cap_per_week', 0, 50)}</Row>
        <Row label={t('journeyEditor.quietStart')}>{num('quiet_start', 0, 23)}</Row>
        <Row label={t('journeyEditor.quietEnd')}>{num('quiet_end', 0, 23)}</Row>
      </Space>
    </Form>
  );
}
