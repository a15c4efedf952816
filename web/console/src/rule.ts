// The visual segment builder's model: groups joined by AND, conditions in
// a group joined by OR — enough for the audiences marketers build (the
// flagship is (video || chat || lapsed) && city_tier && ltv). generate()
// writes rule text; parse() reads back text written in that shape and
// answers null for anything else (then only the text editor applies).

export type CondKind = 'video' | 'search' | 'chat' | 'lapsed' | 'bought' | 'orders' | 'spend' | 'city_tier' | 'city' | 'ltv' | 'tag' | 'segment';

export interface Cond {
  kind: CondKind;
  text?: string; // topic, keyword, item, tag, segment id
  cities?: string[];
  days?: number;
  op?: string;
  n?: number;
}

export type Groups = Cond[][];

export const defaults: Record<CondKind, Cond> = {
  video: { kind: 'video', text: '控糖', days: 30, op: '>=', n: 2 },
  search: { kind: 'search', text: '低GI大米', days: 30, op: '>=', n: 1 },
  chat: { kind: 'chat', text: '血糖', days: 30 },
  lapsed: { kind: 'lapsed', text: '低GI大米', days: 60 },
  bought: { kind: 'bought', text: '低GI大米', days: 365, op: '>=', n: 1 },
  orders: { kind: 'orders', days: 90, op: '>=', n: 2 },
  spend: { kind: 'spend', days: 365, op: '>', n: 300 },
  city_tier: { kind: 'city_tier', op: '==', n: 1 },
  city: { kind: 'city', cities: ['上海'] },
  ltv: { kind: 'ltv', op: '>', n: 300 },
  tag: { kind: 'tag', text: '控糖' },
  segment: { kind: 'segment', text: '' },
};

const q = (s: string | undefined) => JSON.stringify(s ?? '');
const num = (n: number | undefined) => String(n ?? 0);

export function condText(c: Cond): string {
  switch (c.kind) {
    case 'video':
      return `did("video_complete", ${num(c.days)}, {"topic": ${q(c.text)}}) ${c.op || '>='} ${num(c.n)}`;
    case 'search':
      return `did("search", ${num(c.days)}, {"keyword": ${q(c.text)}}) ${c.op || '>='} ${num(c.n)}`;
    case 'chat':
      return `chat(${q(c.text)}, ${num(c.days)})`;
    case 'lapsed':
      return `lapsed(${q(c.text)}, ${num(c.days)})`;
    case 'bought':
      return `bought(${q(c.text)}, ${num(c.days)}) ${c.op || '>='} ${num(c.n)}`;
    case 'orders':
      return `orders(${num(c.days)}) ${c.op || '>='} ${num(c.n)}`;
    case 'spend':
      return `spend(${num(c.days)}) ${c.op || '>'} ${num(c.n)}`;
    case 'city_tier':
      return `city_tier ${c.op || '=='} ${num(c.n)}`;
    case 'city': {
      const cs = c.cities ?? [];
      return cs.length === 1 ? `city == ${q(cs[0])}` : `city in [${cs.map(q).join(', ')}]`;
    }
    case 'ltv':
      return `ltv ${c.op || '>'} ${num(c.n)}`;
    case 'tag':
      return `tag(${q(c.text)})`;
    case 'segment':
      return `in_segment(${q(c.text)})`;
  }
}

export function generate(groups: Groups): string {
  const parts = groups.filter((g) => g.length > 0).map((g) => (g.length === 1 ? condText(g[0]) : '(' + g.map(condText).join(' || ') + ')'));
  return parts.join(' && ');
}

// splitTop splits s at top-level occurrences of sep (outside quotes,
// parentheses, brackets and braces).
function splitTop(s: string, sep: string): string[] | null {
  const out: string[] = [];
  let depth = 0, start = 0, inStr = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (inStr) {
      if (ch === '\\') i++;
      else if (ch === '"') inStr = false;
      continue;
    }
    if (ch === '"') inStr = true;
    else if ('([{'.includes(ch)) depth++;
    else if (')]}'.includes(ch)) depth--;
    else if (depth === 0 && s.startsWith(sep, i)) {
      out.push(s.slice(start, i).trim());
      start = i + sep.length;
      i += sep.length - 1;
    }
    if (depth < 0) return null;
  }
  if (inStr || depth !== 0) return null;
  out.push(s.slice(start).trim());
  return out;
}

function unwrap(s: string): string {
  s = s.trim();
  while (s.startsWith('(') && s.endsWith(')')) {
    const inner = s.slice(1, -1);
    // only when the parentheses enclose everything
    let depth = 0, ok = true, inStr = false;
    for (let i = 0; i < inner.length; i++) {
      const ch = inner[i];
      if (inStr) { if (ch === '\\') i++; else if (ch === '"') inStr = false; continue; }
      if (ch === '"') inStr = true;
      else if (ch === '(') depth++;
      else if (ch === ')') { depth--; if (depth < 0) { ok = false; break; } }
    }
    if (!ok || depth !== 0) break;
    s = inner.trim();
  }
  return s;
}

const S = '("(?:[^"\\\\]|\\\\.)*")';
const N = '(\\d+(?:\\.\\d+)?)';
const OP = '(>=|>|<=|<|==|!=)';
const patterns: [RegExp, (m: string[]) => Cond][] = [
  [new RegExp(`^did\\("video_complete",\\s*${N},\\s*\\{"topic":\\s*${S}\\}\\)\\s*${OP}\\s*${N}$`), (m) => ({ kind: 'video', days: +m[1], text: JSON.parse(m[2]), op: m[3], n: +m[4] })],
  [new RegExp(`^did\\("search",\\s*${N},\\s*\\{"keyword":\\s*${S}\\}\\)\\s*${OP}\\s*${N}$`), (m) => ({ kind: 'search', days: +m[1], text: JSON.parse(m[2]), op: m[3], n: +m[4] })],
  [new RegExp(`^chat\\(${S},\\s*${N}\\)$`), (m) => ({ kind: 'chat', text: JSON.parse(m[1]), days: +m[2] })],
  [new RegExp(`^lapsed\\(${S},\\s*${N}\\)$`), (m) => ({ kind: 'lapsed', text: JSON.parse(m[1]), days: +m[2] })],
  [new RegExp(`^bought\\(${S},\\s*${N}\\)\\s*${OP}\\s*${N}$`), (m) => ({ kind: 'bought', text: JSON.parse(m[1]), days: +m[2], op: m[3], n: +m[4] })],
  [new RegExp(`^orders\\(${N}\\)\\s*${OP}\\s*${N}$`), (m) => ({ kind: 'orders', days: +m[1], op: m[2], n: +m[3] })],
  [new RegExp(`^spend\\(${N}\\)\\s*${OP}\\s*${N}$`), (m) => ({ kind: 'spend', days: +m[1], op: m[2], n: +m[3] })],
  [new RegExp(`^city_tier\\s*${OP}\\s*${N}$`), (m) => ({ kind: 'city_tier', op: m[1], n: +m[2] })],
  [new RegExp(`^city\\s*==\\s*${S}$`), (m) => ({ kind: 'city', cities: [JSON.parse(m[1])] })],
  [new RegExp(`^city\\s+in\\s+\\[((?:\\s*${S}\\s*,?)*)\\]$`), (m) => ({ kind: 'city', cities: JSON.parse('[' + m[1] + ']') })],
  [new RegExp(`^ltv\\s*${OP}\\s*${N}$`), (m) => ({ kind: 'ltv', op: m[1], n: +m[2] })],
  [new RegExp(`^tag\\(${S}\\)$`), (m) => ({ kind: 'tag', text: JSON.parse(m[1]) })],
  [new RegExp(`^in_segment\\(${S}\\)$`), (m) => ({ kind: 'segment', text: JSON.parse(m[1]) })],
];

function parseCond(s: string): Cond | null {
  s = unwrap(s).replace(/\s+/g, ' ');
  for (const [re, f] of patterns) {
    const m = s.match(re);
    if (m) {
      try {
        return f(m);
      } catch {
        return null;
      }
    }
  }
  return null;
}

export function parse(rule: string): Groups | null {
  const src = rule.trim();
  if (!src) return [];
  const ands = splitTop(src, '&&');
  if (!ands) return null;
  // && binds tighter than || in the rule language: "a || b && c" means
  // a || (b && c), which is no AND of OR-groups. A bare || is the
  // builder's shape only when no && stands beside it.
  if (ands.length > 1 && ands.some((part) => (splitTop(part, '||') ?? []).length > 1)) return null;
  const groups: Groups = [];
  for (const part of ands) {
    const ors = splitTop(unwrap(part), '||');
    if (!ors) return null;
    const g: Cond[] = [];
    for (const o of ors) {
      const c = parseCond(o);
      if (!c) return null;
      g.push(c);
    }
    groups.push(g);
  }
  return groups;
}

export const flagshipRule = `(did("video_complete", 30, {"topic": "控糖"}) >= 2 || chat("血糖", 30) || lapsed("低GI大米", 60)) && city_tier == 1 && ltv > 300`;
