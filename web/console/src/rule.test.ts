import { describe, expect, it } from 'vitest';
import { Cond, CondKind, condText, defaults, flagshipRule, generate, Groups, parse } from './rule';

// rule.ts re-reads rule text written in the visual builder's shape (AND of
// OR-groups of known conditions) and answers null for anything else, which
// sends the marketer to the text editor. These tests pin both halves: what
// it must read back exactly, and what it must refuse rather than misread.

describe('condText', () => {
  const cases: [Cond, string][] = [
    [{ kind: 'video', text: '控糖', days: 30, op: '>=', n: 2 }, 'did("video_complete", 30, {"topic": "控糖"}) >= 2'],
    [{ kind: 'search', text: '低GI大米', days: 7, op: '>', n: 1 }, 'did("search", 7, {"keyword": "低GI大米"}) > 1'],
    [{ kind: 'chat', text: '血糖', days: 30 }, 'chat("血糖", 30)'],
    [{ kind: 'lapsed', text: '低GI大米', days: 60 }, 'lapsed("低GI大米", 60)'],
    [{ kind: 'bought', text: '菜籽油', days: 365, op: '>=', n: 1 }, 'bought("菜籽油", 365) >= 1'],
    [{ kind: 'orders', days: 90, op: '>=', n: 2 }, 'orders(90) >= 2'],
    [{ kind: 'spend', days: 365, op: '>', n: 300 }, 'spend(365) > 300'],
    [{ kind: 'city_tier', op: '<=', n: 2 }, 'city_tier <= 2'],
    [{ kind: 'city', cities: ['上海'] }, 'city == "上海"'],
    [{ kind: 'city', cities: ['上海', '杭州'] }, 'city in ["上海", "杭州"]'],
    [{ kind: 'ltv', op: '>', n: 300 }, 'ltv > 300'],
    [{ kind: 'tag', text: '控糖' }, 'tag("控糖")'],
    [{ kind: 'segment', text: 'seg_1' }, 'in_segment("seg_1")'],
  ];
  it.each(cases)('writes %j', (c, want) => {
    expect(condText(c)).toBe(want);
  });

  it('fills a missing operator, number and text with the defaults of the language', () => {
    expect(condText({ kind: 'orders' })).toBe('orders(0) >= 0');
    expect(condText({ kind: 'spend' })).toBe('spend(0) > 0');
    expect(condText({ kind: 'city_tier' })).toBe('city_tier == 0');
    expect(condText({ kind: 'tag' })).toBe('tag("")');
    expect(condText({ kind: 'city' })).toBe('city in []');
  });

  it('quotes text as a JSON string', () => {
    expect(condText({ kind: 'tag', text: 'a "b" \\ c' })).toBe('tag("a \\"b\\" \\\\ c")');
  });
});

describe('generate', () => {
  it('joins groups with && and a group of several with || in parentheses', () => {
    const groups: Groups = [
      [{ kind: 'chat', text: '血糖', days: 30 }, { kind: 'tag', text: '控糖' }],
      [{ kind: 'ltv', op: '>', n: 300 }],
    ];
    expect(generate(groups)).toBe('(chat("血糖", 30) || tag("控糖")) && ltv > 300');
  });

  it('leaves out empty groups', () => {
    expect(generate([[], [{ kind: 'ltv', op: '>', n: 1 }], []])).toBe('ltv > 1');
    expect(generate([])).toBe('');
  });
});

describe('parse', () => {
  it('reads the flagship rule into its three groups', () => {
    expect(parse(flagshipRule)).toEqual([
      [
        { kind: 'video', days: 30, text: '控糖', op: '>=', n: 2 },
        { kind: 'chat', text: '血糖', days: 30 },
        { kind: 'lapsed', text: '低GI大米', days: 60 },
      ],
      [{ kind: 'city_tier', op: '==', n: 1 }],
      [{ kind: 'ltv', op: '>', n: 300 }],
    ]);
  });

  it('reads back what generate writes, for every kind of condition', () => {
    for (const kind of Object.keys(defaults) as CondKind[]) {
      const groups: Groups = [[defaults[kind]]];
      expect(parse(generate(groups)), kind).toEqual(groups);
    }
    const all: Groups = [(Object.keys(defaults) as CondKind[]).map((k) => defaults[k]), [{ kind: 'city', cities: ['上海', '北京'] }]];
    expect(parse(generate(all))).toEqual(all);
  });

  it('answers an empty rule with no groups', () => {
    expect(parse('')).toEqual([]);
    expect(parse('   \n ')).toEqual([]);
  });

  it('accepts other spacing, line breaks and redundant parentheses', () => {
    expect(parse('((ltv>300))  &&\n ( city_tier == 1 )')).toEqual([[{ kind: 'ltv', op: '>', n: 300 }], [{ kind: 'city_tier', op: '==', n: 1 }]]);
    expect(parse('orders( 90 ) >= 2')).toBeNull(); // spaces inside the call are not the builder's shape
    expect(parse('spend(365)>300.5')).toEqual([[{ kind: 'spend', days: 365, op: '>', n: 300.5 }]]);
  });

  it('does not split at && or || inside strings, and unescapes them', () => {
    expect(parse('tag("a && b") && chat("x || \\"y\\"", 7)')).toEqual([
      [{ kind: 'tag', text: 'a && b' }],
      [{ kind: 'chat', text: 'x || "y"', days: 7 }],
    ]);
  });

  it('reads a bare OR as one group', () => {
    expect(parse('tag("控糖") || ltv > 300')).toEqual([[{ kind: 'tag', text: '控糖' }, { kind: 'ltv', op: '>', n: 300 }]]);
  });

  it('reads a city list', () => {
    expect(parse('city in ["上海", "杭州","苏州"]')).toEqual([[{ kind: 'city', cities: ['上海', '杭州', '苏州'] }]]);
  });

  it('refuses rules outside the builder shape', () => {
    for (const rule of [
      'ltv > 300 || city_tier == 1 && tag("控糖")', // means ltv > 300 || (city_tier == 1 && tag): not an AND of OR-groups
      'tag("a") && ltv > 1 || city_tier == 1', // likewise (tag && ltv) || city_tier
      '(ltv > 1 && tag("x")) || tag("y")', // AND nested in an OR group
      '!tag("控糖")', // negation
      'ltv > -1', // negative numbers
      'ltv between 1 and 2',
      'did("page", 30) >= 1', // an event the builder has no condition for
      'unknown_fn("x")',
      'tag("unterminated)',
      '(ltv > 1',
      'ltv > 1)',
      'tag("控糖") &&', // dangling operator
    ]) {
      expect(parse(rule), rule).toBeNull();
    }
  });
});
