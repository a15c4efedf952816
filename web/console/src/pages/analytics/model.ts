// Pure helpers of the analytics pages: the API's types, definitions in
// shareable links, CSV, and the funnel's derived rates. No React here, so
// analytics.test.ts runs them in Node.
import type { components } from '../../api.gen';

type S = components['schemas'];
export type Funnel = S['Funnel'];
export type FunnelStep = S['Step'];
export type FunnelFilter = S['Filter'];
export type FunnelResult = S['FunnelResult'];
export type FunnelSeries = S['FunnelSeries'];
export type Retention = S['Retention'];
export type CohortResult = S['CohortResult'];
export type Repurchase = S['Repurchase'];
export type RepurchaseResult = S['RepurchaseResult'];
export type LTV = S['LTV'];
export type Lifecycle = S['Lifecycle'];
export type LifecycleResult = S['LifecycleResult'];

// encodeDef writes a definition into a URL parameter (base64url of its
// JSON, UTF-8): a link with it opens the same analysis, whose result the
// server has cached for ten minutes.
export function encodeDef(def: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(def));
  let bin = '';
  bytes.forEach((b) => (bin += String.fromCharCode(b)));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// decodeDef reads encodeDef's parameter; undefined when it is not one.
export function decodeDef<T>(param: string | null): T | undefined {
  if (!param) return undefined;
  try {
    const bin = atob(param.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch {
    return undefined;
  }
}

// toCSV renders rows as RFC 4180 CSV with a UTF-8 byte-order mark, so
// that Excel opens Chinese text correctly.
export function toCSV(rows: (string | number)[][]): string {
  const cell = (v: string | number) => {
    const s = String(v);
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  };
  return '\ufeff' + rows.map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

// StepRow is a funnel step as the table shows it.
export type StepRow = {
  step: number;
  label: string;
  persons: number;
  dropped: number; // reached the step before, not this one
  fromPrevious: number; // persons / persons of the step before (1 at step 1)
  fromFirst: number; // persons / persons of step 1
  medianSeconds: number;
};

// stepRows derives each step's drop-off and conversion rates.
export function stepRows(labels: string[], s: FunnelSeries): StepRow[] {
  return labels.map((label, i) => {
    const persons = s.persons[i] ?? 0;
    const prev = i === 0 ? persons : s.persons[i - 1] ?? 0;
    const first = s.persons[0] ?? 0;
    return {
      step: i + 1,
      label,
      persons,
      dropped: i === 0 ? 0 : prev - persons,
      fromPrevious: prev ? persons / prev : 0,
      fromFirst: first ? persons / first : 0,
      medianSeconds: s.median_seconds[i] ?? 0,
    };
  });
}

// funnelCSV is a funnel's table: a row per breakdown value and step.
export function funnelCSV(r: FunnelResult, head: string[]): string {
  const rows: (string | number)[][] = [head];
  for (const s of [{ ...r.total, value: '' }, ...(r.breakdown ?? []).map((b) => ({ ...b, value: b.value || '(none)' }))]) {
    for (const x of stepRows(r.steps, s)) {
      rows.push([s.value, x.step, x.label, x.persons, x.dropped, x.fromPrevious.toFixed(4), x.fromFirst.toFixed(4), x.medianSeconds]);
    }
  }
  return toCSV(rows);
}

// duration says a number of seconds briefly: 45s, 12m, 3.5h, 2.1d.
export function duration(sec: number): string {
  if (sec < 60) return Math.round(sec) + 's';
  if (sec < 3600) return Math.round(sec / 60) + 'm';
  if (sec < 86400) return (sec / 3600).toFixed(1).replace(/\.0$/, '') + 'h';
  return (sec / 86400).toFixed(1).replace(/\.0$/, '') + 'd';
}

// download saves text or a data URL as a file.
export function download(name: string, data: string, type = 'text/csv;charset=utf-8') {
  const href = data.startsWith('data:') ? data : URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  a.click();
  if (!data.startsWith('data:')) setTimeout(() => URL.revokeObjectURL(href), 1000);
}

// chartPNG is the PNG of the first chart canvas inside el, on white.
export function chartPNG(el: HTMLElement | null): string | undefined {
  const src = el?.querySelector('canvas');
  if (!src) return undefined;
  const c = document.createElement('canvas');
  c.width = src.width;
  c.height = src.height;
  const ctx = c.getContext('2d')!;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.drawImage(src, 0, 0);
  return c.toDataURL('image/png');
}
