import { useState } from 'react';
import { Button, Form, Input, InputNumber, Radio, Select, Space } from 'antd';
import { useTranslation } from 'react-i18next';
import type { ChannelSettings, JourneyNode, Offer } from '../../api';
import { OfferSelect, Row, TagsInput } from './fields';

const validId = /^[A-Za-z0-9_-]{1,40}$/;
const traits = ['next_purchase_rice', 'next_purchase_oil', 'last_order_at', 'first_seen'];

type Props = {
  node: JourneyNode;
  ids: string[];
  offers: Offer[];
  chans: ChannelSettings | null;
  onChange: (n: JourneyNode) => void;
  onRename: (to: string) => void;
};

// StepInspector edits the selected step: its id and the fields of its
// type. Its ways out are the canvas's edges, not fields here.
export default function StepInspector({ node, ids, offers, chans, onChange, onRename }: Props) {
  const { t } = useTranslation();
  const [id, setId] = useState(node.id);
  const idBad = id !== node.id && (!validId.test(id) || ids.includes(id));
  return (
    <Form layout="vertical" size="small" key={node.id}>
      <Row label={t('journeyEditor.nodeId')} hint={idBad ? t('journeyEditor.badId') : undefined}>
        <Input data-testid="inspector-id" value={id} status={idBad ? 'error' : undefined} onChange={(e) => setId(e.target.value)}
          onBlur={() => !idBad && id !== node.id && onRename(id)} onPressEnter={() => !idBad && id !== node.id && onRename(id)} />
      </Row>
      {node.type === 'send' && <SendFields node={node} offers={offers} chans={chans} onChange={onChange} />}
      {node.type === 'wait' && <WaitFields node={node} onChange={onChange} />}
      {node.type === 'wait_for' && <WaitForFields node={node} onChange={onChange} />}
      {node.type === 'branch' && (
        <Row label={t('journeyEditor.condition')} hint={t('journeyEditor.conditionHint')}>
          <Input.TextArea data-testid="inspector-condition" rows={3} value={node.branch?.condition}
            onChange={(e) => onChange({ ...node, branch: { ...node.branch!, condition: e.target.value } })} />
        </Row>
      )}
      {node.type === 'split' && <SplitFields node={node} onChange={onChange} />}
    </Form>
  );
}

type Fields = { node: JourneyNode; onChange: (n: JourneyNode) => void };

function SendFields({ node, offers, chans, onChange }: Fields & { offers: Offer[]; chans: ChannelSettings | null }) {
  const { t } = useTranslation();
  const s = node.send!;
  const set = (p: Partial<typeof s>) => onChange({ ...node, send: { ...s, ...p } });
  return (
    <>
      <Row label={t('journeyEditor.channel')}>
        <Select data-testid="inspector-channel" value={s.channel} onChange={(v) => set({ channel: v })}
          options={[
            { value: 'wecom', label: t('campaignEditor.wecomOneOne') },
            { value: 'outbox', label: t('campaignEditor.outbox') },
            { value: 'webhook', label: t('campaignEditor.smsGatewayWebhook') },
          ]} />
      </Row>
      {s.channel === 'webhook' && (
        <Row label={t('journeyEditor.targets')}>
          <Select mode="multiple" value={s.targets ?? []} onChange={(v) => set({ targets: v })}
            options={(chans?.webhooks ?? []).map((w) => ({ value: w, label: w }))} />
        </Row>
      )}
      <Row label={t('journeyEditor.offer')}>
        <OfferSelect testid="inspector-offer" offers={offers} value={s.offer_id} onChange={(v) => set({ offer_id: v })} />
      </Row>
      <Row label={t('journeyEditor.message')} hint={t('journeyEditor.messageHint')}>
        <Input.TextArea data-testid="inspector-template" rows={4} value={s.template} onChange={(e) => set({ template: e.target.value })} />
      </Row>
    </>
  );
}

function WaitFields({ node, onChange }: Fields) {
  const { t } = useTranslation();
  const w = node.wait ?? {};
  const mode = w.until_time ? 'time' : w.until_trait ? 'trait' : 'duration';
  const set = (p: typeof w) => onChange({ ...node, wait: p });
  return (
    <>
      <Row label={t('journeyEditor.waitKind')}>
        <Radio.Group value={mode} data-testid="inspector-wait-kind" onChange={(e) => set(e.target.value === 'time' ? { until_time: '10:00' }
          : e.target.value === 'trait' ? { until_trait: 'next_purchase_rice', offset_days: -3, at: '10:00' } : { duration: '1d' })}>
          <Radio.Button value="duration">{t('journeyEditor.waitDuration')}</Radio.Button>
          <Radio.Button value="time">{t('journeyEditor.waitTime')}</Radio.Button>
          <Radio.Button value="trait">{t('journeyEditor.waitTrait')}</Radio.Button>
        </Radio.Group>
      </Row>
      {mode === 'duration' && (
        <Row label={t('journeyEditor.duration')} hint={t('journeyEditor.durationHint')}>
          <Input data-testid="inspector-duration" value={w.duration} onChange={(e) => set({ duration: e.target.value })} />
        </Row>
      )}
      {mode === 'time' && (
        <Row label={t('journeyEditor.untilTime')}>
          <Input value={w.until_time} placeholder="HH:MM" onChange={(e) => set({ until_time: e.target.value })} />
        </Row>
      )}
      {mode === 'trait' && (
        <Space wrap>
          <Row label={t('journeyEditor.trait')}>
            <Select style={{ width: 200 }} value={w.until_trait} onChange={(v) => set({ ...w, until_trait: v })}
              options={traits.map((v) => ({ value: v, label: t(`journeyEditor.traits.${v}` as 'journeyEditor.traits.first_seen') }))} />
          </Row>
          <Row label={t('journeyEditor.offsetDays')}>
            <InputNumber value={w.offset_days} min={-365} max={365} onChange={(v) => set({ ...w, offset_days: v ?? 0 })} />
          </Row>
          <Row label={t('journeyEditor.at')}>
            <Input style={{ width: 90 }} value={w.at} placeholder="10:00" onChange={(e) => set({ ...w, at: e.target.value })} />
          </Row>
        </Space>
      )}
    </>
  );
}

function WaitForFields({ node, onChange }: Fields) {
  const { t } = useTranslation();
  const w = node.wait_for!;
  const set = (p: Partial<typeof w>) => onChange({ ...node, wait_for: { ...w, ...p } });
  const isEvent = !!w.event;
  return (
    <>
      <Row label={t('journeyEditor.waitForKind')}>
        <Radio.Group value={isEvent ? 'event' : 'order'}
          onChange={(e) => set(e.target.value === 'event' ? { event: { name: '' }, order: undefined } : { order: {}, event: undefined })}>
          <Radio.Button value="order">{t('journeyEditor.anOrder')}</Radio.Button>
          <Radio.Button value="event">{t('journeyEditor.anEvent')}</Radio.Button>
        </Radio.Group>
      </Row>
      {isEvent ? (
        <Row label={t('journeyEditor.eventName')}>
          <Input value={w.event?.name} onChange={(e) => set({ event: { ...w.event, name: e.target.value } })} />
        </Row>
      ) : (
        <>
          <Row label={t('journeyEditor.categories')} hint={t('journeyEditor.anyOrderHint')}>
            <TagsInput value={w.order?.categories} onChange={(v) => set({ order: { ...w.order, categories: v } })} />
          </Row>
          <Row label={t('journeyEditor.skus')}>
            <TagsInput value={w.order?.skus} onChange={(v) => set({ order: { ...w.order, skus: v } })} />
          </Row>
        </>
      )}
      <Row label={t('journeyEditor.timeout')} hint={t('journeyEditor.durationHint')}>
        <Input data-testid="inspector-timeout" value={w.timeout} onChange={(e) => set({ timeout: e.target.value })} />
      </Row>
    </>
  );
}

function SplitFields({ node, onChange }: Fields) {
  const { t } = useTranslation();
  const arms = node.split?.arms ?? [];
  const set = (next: typeof arms) => onChange({ ...node, split: { arms: next } });
  return (
    <Row label={t('journeyEditor.arms')} hint={t('journeyEditor.armsHint')}>
      <Space direction="vertical" style={{ width: '100%' }}>
        {arms.map((a, i) => (
          <Space key={i}>
            <Input style={{ width: 90 }} value={a.name} onChange={(e) => set(arms.map((x, j) => (j === i ? { ...x, name: e.target.value } : x)))} />
            <InputNumber min={0} max={100} value={a.percent} addonAfter="%" onChange={(v) => set(arms.map((x, j) => (j === i ? { ...x, percent: v ?? 0 } : x)))} />
          </Space>
        ))}
        <Space>
          <Button size="small" disabled={arms.length >= 10}
            onClick={() => set([...arms, { name: String.fromCharCode(65 + arms.length), percent: 0, next: '' }])}>{t('journeyEditor.addArm')}</Button>
          <Button size="small" disabled={arms.length <= 2} onClick={() => set(arms.slice(0, -1))}>{t('journeyEditor.removeArm')}</Button>
        </Space>
      </Space>
    </Row>
  );
}
