import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { components } from '../api.gen';
import { useLang, useName } from '../i18n';
import { currentCustomer, Signatures, WxError } from './wx';

type Card = components['schemas']['SidebarCard'];
type Session = components['schemas']['SidebarSession'];

// SidebarError is an answer of /api/sidebar: {code, message, field}.
class SidebarError extends Error {
  code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

async function call<T>(method: string, path: string, token: string | null, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers['Authorization'] = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch('/api/sidebar' + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new SidebarError(data.code || 'http_' + res.status, data.message || `HTTP ${res.status}`);
  return data as T;
}

const SESSION_KEY = 'cdp.sidebar';

// session returns a live session: the one this tab holds, or a new one
// from the code WeCom's OAuth2 redirect put in the URL.
async function session(): Promise<string> {
  const saved = sessionStorage.getItem(SESSION_KEY);
  if (saved) {
    const s = JSON.parse(saved) as Session;
    if (new Date(s.expires_at).getTime() > Date.now() + 60_000) return s.token;
  }
  const code = new URLSearchParams(location.search).get('code');
  if (!code) throw new SidebarError('no_code', '');
  const s = await call<Session>('POST', '/session', null, { code });
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  return s.token;
}

type State = { step: 'loading' } | { step: 'error'; error: Error } | { step: 'group' } | { step: 'card'; card: Card };

// Sidebar signs the staff member in, asks WeCom which customer the chat is
// with, and shows that customer's card.
export default function Sidebar() {
  const { t } = useTranslation();
  const [state, setState] = useState<State>({ step: 'loading' });
  useEffect(() => {
    (async () => {
      const token = await session();
      const sig = await call<Signatures>('POST', '/signatures', token, { url: location.href.split('#')[0] });
      const { externalUserId, entry } = await currentCustomer(sig);
      if (!externalUserId) {
        setState(entry === 'group_chat_tools' ? { step: 'group' } : { step: 'error', error: new SidebarError('not_single_chat', entry) });
        return;
      }
      const card = await call<Card>('GET', '/customers/' + encodeURIComponent(externalUserId), token);
      setState({ step: 'card', card });
    })().catch((error: Error) => setState({ step: 'error', error }));
  }, []);
  return (
    <div className="sb">
      <LangSwitch />
      {state.step === 'loading' && <p className="sb-muted" data-testid="sidebar-loading">{t('sidebar.loading')}</p>}
      {state.step === 'group' && <p className="sb-muted" data-testid="sidebar-group">{t('sidebar.groupChat')}</p>}
      {state.step === 'error' && <ErrorBox error={state.error} />}
      {state.step === 'card' && <CustomerCard card={state.card} />}
    </div>
  );
}

function LangSwitch() {
  const { lang, setLang } = useLang();
  return (
    <button className="sb-lang" data-testid="sidebar-lang" onClick={() => setLang(lang === 'zh' ? 'en' : 'zh')}>
      {lang === 'zh' ? 'English' : '中文'}
    </button>
  );
}

function ErrorBox({ error }: { error: Error }) {
  const { t } = useTranslation();
  let text: string;
  if (error instanceof WxError) text = t('sidebar.wxFailed', { step: error.step, detail: error.message });
  else if (error instanceof SidebarError && error.code === 'no_code') text = t('sidebar.noCode');
  else if (error instanceof SidebarError && error.code === 'not_single_chat') text = t('sidebar.notSingleChat');
  else if (error instanceof SidebarError && error.code === 'forbidden') text = t('sidebar.notYours');
  else if (error instanceof SidebarError && error.code === 'not_found') text = t('sidebar.noProfile');
  else if (error instanceof SidebarError) text = t(('errors.' + error.code) as 'errors.internal', { defaultValue: error.message });
  else text = error.message;
  return <div className="sb-error" data-testid="sidebar-error" data-code={error instanceof SidebarError ? error.code : 'wx'}>{text}</div>;
}

const day = (s: string) => new Date(s).toLocaleDateString('zh-CN', { timeZone: 'Asia/Shanghai' });
const yuan = (n: number) => '¥' + n.toFixed(2);

function CustomerCard({ card }: { card: Card }) {
  const { t } = useTranslation();
  const name = useName();
  return (
    <div data-testid="sidebar-card">
      <section className="sb-head">
        <h1 data-testid="sidebar-name">{card.name || t('sidebar.unnamed')}</h1>
        <div className="sb-ids">
          {card.identifiers.map((id, i) => (
            <span key={i} className="sb-tag" data-testid={'sidebar-id-' + id.type}>{name(id.type, 'id')} {id.value}</span>
          ))}
        </div>
        <div className="sb-stats">
          <span>{t('sidebar.orders')} <b data-testid="sidebar-order-count">{card.order_count}</b></span>
          <span>{t('sidebar.ltv')} <b>{yuan(card.lifetime_value)}</b></span>
        </div>
      </section>
      <section>
        <h2>{t('sidebar.next')}</h2>
        {card.predictions.length === 0 && <p className="sb-muted">{t('sidebar.noPrediction')}</p>}
        {card.predictions.map((p) => (
          <p key={p.kind} data-testid={'sidebar-next-' + p.kind}>
            {name(p.kind)} · {day(p.date)} · {p.days < 0 ? t('sidebar.overdue', { n: -p.days }) : t('sidebar.inDays', { n: p.days })}
          </p>
        ))}
        {card.offer && (
          <div className="sb-offer" data-testid="sidebar-offer">
            {t('sidebar.suggest', { offer: card.offer.name, kind: name(card.offer.kind) })}
            {card.offer.link && <div className="sb-link">{card.offer.link}</div>}
          </div>
        )}
      </section>
      <section>
        <h2>{t('sidebar.segments')}</h2>
        {card.segments.length === 0 ? <p className="sb-muted">{t('sidebar.none')}</p> : (
          <div className="sb-ids">{card.segments.map((s) => <span key={s.id} className="sb-tag">{s.name}</span>)}</div>
        )}
      </section>
      <section>
        <h2>{t('sidebar.journeys')}</h2>
        {card.journeys.length === 0 ? <p className="sb-muted">{t('sidebar.none')}</p> : card.journeys.map((j) => (
          <p key={j.journey_id + j.entry}>{j.name || j.journey_id} · {name(j.state)}{j.node ? ' · ' + j.node : ''}</p>
        ))}
      </section>
      <section>
        <h2>{t('sidebar.recentOrders')}</h2>
        {card.orders.length === 0 && <p className="sb-muted">{t('sidebar.none')}</p>}
        {card.orders.map((o) => (
          <div key={o.channel + o.order_id} className="sb-order" data-testid="sidebar-order">
            <div><b>{day(o.ordered_at)}</b> · {name(o.channel)} · {yuan(o.amount)}{o.status !== 'completed' ? ' · ' + name(o.status) : ''}</div>
            <div className="sb-muted">{o.items.join('，')}</div>
          </div>
        ))}
      </section>
    </div>
  );
}
