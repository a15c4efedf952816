// The canvas's starting points: an empty journey and three templates a
// grain-and-oil brand runs every day. Texts come from the catalog (tr), so
// a template speaks the console's language.
import type { JourneyDefinition, JourneySettings, Offer } from '../../api';

export const templateKeys = ['replenishment', 'welcome', 'winback'] as const;
export type TemplateKey = (typeof templateKeys)[number];

type Tr = (key: string) => string;

// defaultSettings are a new journey's rules: exit on conversion, once per
// person, a 10% holdout, two messages a week, quiet from 21:00 to 8:00.
export function defaultSettings(goal = ''): JourneySettings {
  return {
    goal_offer_id: goal, exit_on_conversion: true, re_entry: 'never', holdout_percent: 10, attribution_days: 14,
    cap_per_week: 2, quiet_start: 21, quiet_end: 8, global_control_percent: 0,
  };
}

// blank is a journey with its entry and nothing after it.
export function blank(name: string, offer?: Offer): JourneyDefinition {
  return { name, entry: { type: 'segment', next: '' }, nodes: [], settings: defaultSettings(offer?.id) };
}

// orderOf is an order of the offer's SKUs or categories.
const orderOf = (o?: Offer) => ({ skus: o?.skus ?? [], categories: o?.categories ?? [] });

// template builds a template around the offer it promotes (its order is
// the conversion and what the replenishment journey waits for).
export function template(key: TemplateKey, tr: Tr, offer?: Offer): JourneyDefinition {
  const id = offer?.id ?? '';
  const send = (text: string, channel = 'wecom') => ({ channel, template: tr(text), offer_id: id });
  const p = `journeyEditor.tpl.${key}.`;
  switch (key) {
    case 'replenishment':
      // Reminder → wait up to 3 days for an order of the offer → if none,
      // a staff coupon task in WeCom; out as soon as they buy.
      return {
        name: tr(p + 'name'),
        entry: { type: 'replenishment', replenish_kind: 'rice', lead_days: 3, next: 'remind' },
        nodes: [
          { id: 'remind', type: 'send', next: 'buy', send: send(p + 'remind') },
          { id: 'buy', type: 'wait_for', wait_for: { order: orderOf(offer), timeout: '3d', happened: 'ordered', timed_out: 'coupon' } },
          { id: 'coupon', type: 'send', next: 'out', send: send(p + 'coupon') },
          { id: 'ordered', type: 'exit' },
          { id: 'out', type: 'exit' },
        ],
        settings: defaultSettings(id),
      };
    case 'welcome':
      // People entering a segment of new WeCom contacts → welcome → the
      // next 10:00 → never ordered? a first-order nudge : out.
      return {
        name: tr(p + 'name'),
        entry: { type: 'segment', segment_id: '', next: 'hello' },
        nodes: [
          { id: 'hello', type: 'send', next: 'tomorrow', send: send(p + 'hello') },
          { id: 'tomorrow', type: 'wait', next: 'first', wait: { until_time: '10:00' } },
          { id: 'first', type: 'branch', branch: { condition: 'never("order")', yes: 'nudge', no: 'done' } },
          { id: 'nudge', type: 'send', next: 'done', send: send(p + 'nudge') },
          { id: 'done', type: 'exit' },
        ],
        settings: defaultSettings(id),
      };
    default:
      // Lapsed oil buyers (no oil order in 90 days, bought before) →
      // an A/B split of two offers' wordings → wait 5 days for an order.
      return {
        name: tr(p + 'name'),
        entry: { type: 'schedule', segment_id: '', schedule: { every: 'week', weekday: 1, at: '10:00' }, next: 'ab' },
        nodes: [
          { id: 'ab', type: 'split', split: { arms: [{ name: 'A', percent: 50, next: 'price' }, { name: 'B', percent: 50, next: 'story' }] } },
          { id: 'price', type: 'send', next: 'back', send: send(p + 'price') },
          { id: 'story', type: 'send', next: 'back', send: send(p + 'story') },
          { id: 'back', type: 'wait_for', wait_for: { order: orderOf(offer), timeout: '5d', happened: 'won', timed_out: 'lost' } },
          { id: 'won', type: 'exit' },
          { id: 'lost', type: 'exit' },
        ],
        settings: { ...defaultSettings(id), re_entry: 'after_days', re_entry_days: 90 },
      };
  }
}
