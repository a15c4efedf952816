import { Handle, NodeProps, Position } from '@xyflow/react';
import { Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import type { JourneyEntry, JourneyNode } from '../../api';
import { fmtInt } from '../../components/common';
import { EntryNode, handles, StepNode, Tally } from './graph';

// The canvas's two kinds of node: the entry, and a step of any type. Each
// shows what it does in one line, its live counts and, in red, the error
// the API answered about it.

export const typeColor: Record<string, string> = {
  entry: 'geekblue', send: 'blue', wait: 'gold', wait_for: 'orange', branch: 'purple', split: 'magenta', exit: 'default',
};

// Which counts a node of the type shows.
const shown: Record<string, (keyof Tally)[]> = {
  entry: ['entered', 'converted', 'exited'],
  send: ['entered', 'sent', 'converted'],
  wait: ['entered', 'waiting', 'converted'],
  wait_for: ['entered', 'waiting', 'branched', 'converted'],
  branch: ['entered', 'branched'],
  split: ['entered', 'branched'],
  exit: ['entered', 'exited'],
};

function Counts({ id, type, tally }: { id: string; type: string; tally?: Tally }) {
  const { t } = useTranslation();
  if (!tally) return null;
  return (
    <div className="jc-counts">
      {shown[type].map((k) => (
        <span key={k} data-testid={`count-${id}-${k}`} data-value={tally[k]}>
          <Typography.Text type="secondary">{t(`journeyEditor.count.${k}` as 'journeyEditor.count.entered')}</Typography.Text> {fmtInt(tally[k])}
        </span>
      ))}
    </div>
  );
}

function Problem({ id, error }: { id: string; error?: string }) {
  if (!error) return null;
  return <div className="jc-error" data-testid={`node-error-${id}`}>{error}</div>;
}

// useSummary says in one line what a step or the entry does.
export function useSummary() {
  const { t } = useTranslation();
  const entry = (e: JourneyEntry) => {
    switch (e.type) {
      case 'replenishment': return t('journeyEditor.sum.replenishment', { kind: t(`journeyEditor.kind.${e.replenish_kind === 'oil' ? 'oil' : 'rice'}`), days: e.lead_days || 3 });
      case 'event': return t('journeyEditor.sum.event', { name: e.event?.name ?? '' });
      case 'schedule': return t('journeyEditor.sum.schedule', { at: e.schedule?.at ?? '' });
      case 'order': return t('journeyEditor.sum.order');
      case 'demand_surge': return t('journeyEditor.sum.demandSurge', { class: e.surge?.class || '–', region: [e.surge?.province, e.surge?.city].filter(Boolean).join(' ') || t('campaignEditor.surgeAnyRegion') });
      default: return t('journeyEditor.sum.segment', { segment: e.segment_id || '–' });
    }
  };
  const step = (n: JourneyNode) => {
    switch (n.type) {
      case 'send': return t('journeyEditor.sum.send', { channel: n.send?.channel ?? '' });
      case 'wait': {
        const w = n.wait ?? {};
        if (w.until_time) return t('journeyEditor.sum.untilTime', { at: w.until_time });
        if (w.until_trait) return t('journeyEditor.sum.untilTrait', { trait: w.until_trait, days: w.offset_days ?? 0 });
        return t('journeyEditor.sum.duration', { d: w.duration ?? '' });
      }
      case 'wait_for': return t(n.wait_for?.event ? 'journeyEditor.sum.waitEvent' : 'journeyEditor.sum.waitOrder', { timeout: n.wait_for?.timeout ?? '', name: n.wait_for?.event?.name ?? '' });
      case 'branch': return n.branch?.condition || '–';
      case 'split': return (n.split?.arms ?? []).map((a) => `${a.name} ${a.percent}%`).join(' / ');
      default: return t('journeyEditor.sum.exit');
    }
  };
  return { entry, step };
}

// handleLabel names a way out: next, happened, timed out, yes, no, an arm.
export function useHandleLabel() {
  const { t } = useTranslation();
  return (n: JourneyNode, h: string): string | undefined => {
    if (h === 'next') return undefined;
    if (h.startsWith('arm')) return n.split?.arms[Number(h.slice(3))]?.name;
    return t(`journeyEditor.way.${h}` as 'journeyEditor.way.yes');
  };
}

export function EntryCard({ data, selected }: NodeProps<EntryNode>) {
  const { t } = useTranslation();
  const { entry } = useSummary();
  return (
    <div className={`jc-node${selected ? ' jc-selected' : ''}${data.error ? ' jc-invalid' : ''}`} data-testid="node-__entry">
      <div className="jc-head"><Tag color={typeColor.entry}>{t('journeyEditor.entryNode')}</Tag></div>
      <div className="jc-sum">{entry(data.entry)}</div>
      <Counts id="__entry" type="entry" tally={data.tally} />
      <Problem id="__entry" error={data.error} />
      <Handle type="source" position={Position.Bottom} id="next" />
    </div>
  );
}

export function StepCard({ data, selected }: NodeProps<StepNode>) {
  const { t } = useTranslation();
  const { step } = useSummary();
  const label = useHandleLabel();
  const n = data.node;
  const outs = handles(n);
  return (
    <div className={`jc-node${selected ? ' jc-selected' : ''}${data.error ? ' jc-invalid' : ''}`} data-testid={`node-${n.id}`}>
      <Handle type="target" position={Position.Top} id="in" />
      <div className="jc-head">
        <Tag color={typeColor[n.type]}>{t(`journeys.nodeType.${n.type}` as 'journeys.nodeType.send')}</Tag>
        <Typography.Text code>{n.id}</Typography.Text>
      </div>
      <div className="jc-sum">{step(n)}</div>
      <Counts id={n.id} type={n.type} tally={data.tally} />
      <Problem id={n.id} error={data.error} />
      {outs.map((h, i) => {
        const left = `${((i + 1) * 100) / (outs.length + 1)}%`;
        const name = label(n, h);
        return (
          <div key={h}>
            {name && <span className="jc-handle-label" style={{ left }}>{name}</span>}
            <Handle type="source" position={Position.Bottom} id={h} style={{ left }} data-testid={`handle-${n.id}-${h}`} />
          </div>
        );
      })}
    </div>
  );
}

export const nodeTypes = { entry: EntryCard, step: StepCard };
