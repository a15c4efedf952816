import { useEffect, useState } from 'react';
import { Campaign, ChannelTask, get, Offer, ResultsOverTime, Segment, Uplift } from '../../api';

// While a campaign is scheduled or running the page asks again this often:
// a launch answers once the plan is written and the campaign loop sends
// right after, so the first answer may still show nobody sent.
export const refreshMs = 3000;
export const isLive = (c: Campaign | null) => !!c && (c.status === 'running' || c.status === 'scheduled');

// useCampaignResults loads a campaign with its results, daily conversion
// and channel tasks (and once its offer and segment), then again every
// refreshMs while it is scheduled or running; it stops once the campaign
// finished or the page is left. A failed refresh keeps what was shown and
// is reported in refreshError.
export function useCampaignResults(id: string | undefined) {
  const [c, setC] = useState<Campaign | null>(null);
  const [u, setU] = useState<Uplift | null>(null);
  const [d, setD] = useState<ResultsOverTime | null>(null);
  const [tasks, setTasks] = useState<ChannelTask[] | null>(null);
  const [offer, setOffer] = useState<Offer | null>(null);
  const [seg, setSeg] = useState<Segment | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [refreshError, setRefreshError] = useState<unknown>(null);
  const [refreshedAt, setRefreshedAt] = useState<Date | null>(null);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let first = true;
    const load = async () => {
      try {
        const [cc, uu, dd, tt] = await Promise.all([
          get<Campaign>('/campaigns/' + id),
          get<Uplift>(`/campaigns/${id}/results`),
          get<ResultsOverTime>(`/campaigns/${id}/results/daily`),
          get<{ items: ChannelTask[] }>(`/campaigns/${id}/tasks`),
        ]);
        if (stopped) return;
        setC(cc);
        setU(uu);
        setD(dd);
        setTasks(tt.items);
        setRefreshError(null);
        setRefreshedAt(new Date());
        if (first) {
          first = false;
          get<{ items: Offer[] }>('/offers').then((r) => !stopped && setOffer(r.items.find((o) => o.id === cc.offer_id) ?? null)).catch(() => {});
          if (cc.segment_id) get<Segment>('/segments/' + cc.segment_id).then((s) => !stopped && setSeg(s)).catch(() => {});
        }
        if (isLive(cc)) timer = setTimeout(load, refreshMs);
      } catch (e) {
        if (stopped) return;
        if (first) {
          setError(e);
          return;
        }
        // A refresh failed: keep what is shown, say so, try again.
        setRefreshError(e);
        timer = setTimeout(load, refreshMs);
      }
    };
    load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [id]);
  return { c, u, d, tasks, offer, seg, error, refreshError, refreshedAt };
}

// sendCounts reads an uplift's sends: the count in each state, the total
// planned, how many were processed, and failures by reason (with those
// no reason explains).
export function sendCounts(u: Uplift) {
  const sends = u.sends ?? {};
  const count = (k: string) => sends[k] ?? 0;
  const total = Object.entries(sends).filter(([k]) => !k.includes(':')).reduce((a, [, n]) => a + n, 0);
  const processed = count('sent') + count('delivered') + count('failed');
  const reasons = Object.entries(sends).filter(([k]) => k.startsWith('failed:')).map(([k, n]) => ({ reason: k.slice(7), n })).sort((a, b) => b.n - a.n);
  const unexplained = count('failed') - reasons.reduce((a, r) => a + r.n, 0);
  return { count, total, processed, reasons, unexplained };
}

export const pp = (x: number) => (x >= 0 ? '+' : '') + (x * 100).toFixed(2) + ' pp';
export const ppRange = (r: [number, number]) => `[${pp(r[0])}, ${pp(r[1])}]`;
