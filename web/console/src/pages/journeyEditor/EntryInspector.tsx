import { Checkbox, Form, Input, InputNumber, Select, Space } from 'antd';
import { useTranslation } from 'react-i18next';
import type { JourneyEntry, Segment, SurgeFilter } from '../../api';
import { Row, SegmentSelect, TagsInput } from './fields';

const entryTypes = ['segment', 'event', 'order', 'schedule', 'replenishment', 'demand_surge'];

// EntryInspector edits who enters: the entry's type and its fields. The
// first node is the canvas edge leaving the entry.
export default function EntryInspector({ entry, segments, onChange }: { entry: JourneyEntry; segments: Segment[]; onChange: (e: JourneyEntry) => void }) {
  const { t } = useTranslation();
  const set = (p: Partial<JourneyEntry>) => onChange({ ...entry, ...p });
  const retype = (type: string) => {
    const base: JourneyEntry = { type, next: entry.next, segment_id: entry.segment_id };
    if (type === 'event') base.event = { name: '' };
    if (type === 'order') base.order = {};
    if (type === 'schedule') base.schedule = { every: 'day', at: '10:00' };
    if (type === 'replenishment') Object.assign(base, { replenish_kind: 'rice', lead_days: 3 });
    if (type === 'demand_surge') base.surge = { class: '' };
    onChange(base);
  };
  const setSurge = (p: Partial<SurgeFilter>) => set({ surge: { ...entry.surge, class: entry.surge?.class ?? '', ...p } });
  const needsSegment = entry.type === 'segment' || entry.type === 'schedule' || entry.type === 'demand_surge';
  return (
    <Form layout="vertical" size="small">
      <Row label={t('journeys.entry')}>
        <Select data-testid="entry-type" value={entry.type} onChange={retype}
          options={entryTypes.map((v) => ({ value: v, label: t(`journeys.entryType.${v}` as 'journeys.entryType.segment') }))} />
      </Row>
      {entry.type === 'replenishment' && (
        <Space wrap>
          <Row label={t('journeyEditor.replenishKind')}>
            <Select style={{ width: 120 }} value={entry.replenish_kind} onChange={(v) => set({ replenish_kind: v })}
              options={[{ value: 'rice', label: t('journeyEditor.kind.rice') }, { value: 'oil', label: t('journeyEditor.kind.oil') }]} />
          </Row>
          <Row label={t('journeyEditor.leadDays')}>
            <InputNumber data-testid="entry-lead-days" min={0} max={30} value={entry.lead_days} onChange={(v) => set({ lead_days: v ?? 0 })} />
          </Row>
        </Space>
      )}
      {entry.type === 'demand_surge' && (
        <>
          <Row label={t('campaignEditor.surgeClass')} hint={t('journeyEditor.demandSurgeHint')}>
            <Input data-testid="entry-surge-class" maxLength={64} placeholder="高油酸花生油" value={entry.surge?.class} onChange={(e) => setSurge({ class: e.target.value })} />
          </Row>
          <Space wrap>
            <Row label={t('campaignEditor.surgeProvince')}>
              <Input data-testid="entry-surge-province" maxLength={64} placeholder={t('campaignEditor.surgeAnyRegion')} value={entry.surge?.province} onChange={(e) => setSurge({ province: e.target.value })} />
            </Row>
            <Row label={t('campaignEditor.surgeCity')}>
              <Input data-testid="entry-surge-city" maxLength={64} placeholder={t('campaignEditor.surgeAnyRegion')} value={entry.surge?.city} onChange={(e) => setSurge({ city: e.target.value })} />
            </Row>
          </Space>
        </>
      )}
      {entry.type === 'event' && (
        <Row label={t('journeyEditor.eventName')}>
          <Input value={entry.event?.name} onChange={(e) => set({ event: { ...entry.event, name: e.target.value } })} />
        </Row>
      )}
      {entry.type === 'order' && (
        <Row label={t('journeyEditor.categories')} hint={t('journeyEditor.anyOrderHint')}>
          <TagsInput value={entry.order?.categories} onChange={(v) => set({ order: { ...entry.order, categories: v } })} />
        </Row>
      )}
      {entry.type === 'schedule' && (
        <Space wrap>
          <Row label={t('journeyEditor.every')}>
            <Select style={{ width: 110 }} value={entry.schedule?.every} onChange={(v) => set({ schedule: { ...entry.schedule!, every: v } })}
              options={['once', 'day', 'week'].map((v) => ({ value: v, label: t(`journeyEditor.everyKind.${v}` as 'journeyEditor.everyKind.day') }))} />
          </Row>
          {entry.schedule?.every === 'week' && (
            <Row label={t('journeyEditor.weekday')}>
              <InputNumber min={0} max={6} value={entry.schedule.weekday} onChange={(v) => set({ schedule: { ...entry.schedule!, weekday: v ?? 0 } })} />
            </Row>
          )}
          {entry.schedule?.every === 'once' && (
            <Row label={t('journeyEditor.date')}>
              <Input placeholder="YYYY-MM-DD" value={entry.schedule.date} onChange={(e) => set({ schedule: { ...entry.schedule!, date: e.target.value } })} />
            </Row>
          )}
          <Row label={t('journeyEditor.at')}>
            <Input style={{ width: 90 }} value={entry.schedule?.at} onChange={(e) => set({ schedule: { ...entry.schedule!, at: e.target.value } })} />
          </Row>
        </Space>
      )}
      <Row label={needsSegment ? t('journeyEditor.segment') : t('journeyEditor.segmentFilter')}>
        <SegmentSelect segments={segments} value={entry.segment_id} onChange={(v) => set({ segment_id: v ?? '' })} />
      </Row>
      {entry.type === 'segment' && (
        <Checkbox checked={entry.include_current} onChange={(e) => set({ include_current: e.target.checked })}>{t('journeyEditor.includeCurrent')}</Checkbox>
      )}
    </Form>
  );
}
