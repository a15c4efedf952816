/// <reference types="node" />
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import i18next from 'i18next';
import { describe, expect, it } from 'vitest';
import zhCN from './zh-CN.json';
import en from './en.json';

// The message catalogs: English has exactly the keys of zh-CN (the
// default, from which the keys are typed) and the same placeholders, and
// every error code the server can answer has a message.

type Catalog = { [k: string]: string | Catalog };

function flatten(c: Catalog, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(c)) {
    if (typeof v === 'string') out.set(prefix + k, v);
    else for (const [kk, vv] of flatten(v, prefix + k + '.')) out.set(kk, vv);
  }
  return out;
}

const placeholders = (s: string) => [...s.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();

// Messages whose languages word a value differently: the English one
// lower-cases the product kind ("rice") that Chinese writes as is.
const differentPlaceholders = new Set(['campaignResults.replenishmentRunningEveryHour']);

describe('catalogs', () => {
  const zh = flatten(zhCN);
  const enMap = flatten(en);

  it('has the same keys in English as in Chinese', () => {
    expect([...enMap.keys()].sort()).toEqual([...zh.keys()].sort());
  });

  it('has the same placeholders in both languages', () => {
    for (const [key, text] of zh) {
      if (differentPlaceholders.has(key)) continue;
      expect(placeholders(enMap.get(key) ?? ''), key).toEqual(placeholders(text));
    }
  });

  it('has no empty message', () => {
    for (const [key, text] of [...zh, ...enMap]) expect(text.trim(), key).not.toBe('');
  });

  it('shows a campaign template placeholder as written when no value is given', async () => {
    const i18n = i18next.createInstance();
    await i18n.init({ lng: 'en', resources: { en: { translation: en } }, interpolation: { escapeValue: false } });
    expect(i18n.t('campaignEditor.wecomCannotUseName')).toContain('{{name}} or {{coupon}}');
  });
});

// serverErrorCodes reads the codes the server answers with from its Go
// sources: api's Code* constants and the literal codes of fail(),
// Error{Code: ...} and ingest's Problem{Code: ...}.
function serverErrorCodes(): Set<string> {
  const root = join(__dirname, '..', '..', '..', '..');
  const codes = new Set<string>();
  for (const dir of ['api', 'ingest']) {
    for (const f of readdirSync(join(root, dir))) {
      if (!f.endsWith('.go') || f.endsWith('_test.go')) continue;
      const src = readFileSync(join(root, dir, f), 'utf8');
      for (const m of src.matchAll(/\bCode\w*\s*=\s*"(\w+)"/g)) codes.add(m[1]);
      for (const m of src.matchAll(/\bfail\(c, [^,]+, "(\w+)"/g)) codes.add(m[1]);
      for (const m of src.matchAll(/\bCode:\s*"(\w+)"/g)) codes.add(m[1]);
    }
  }
  return codes;
}

describe('error messages', () => {
  it('has a message in both languages for every code the server answers with', () => {
    const codes = serverErrorCodes();
    expect(codes.size).toBeGreaterThan(10);
    const zh = zhCN.errors as Record<string, string>;
    const enErrors = en.errors as Record<string, string>;
    for (const code of codes) {
      expect(zh[code], `errors.${code} (zh-CN)`).toBeTruthy();
      expect(enErrors[code], `errors.${code} (en)`).toBeTruthy();
    }
  });
});
