import { ApiError, DemandRegressors, getToken, RegressorSummary } from '../../api';

// The regressor CSV's header (docs/demand.md): what the upload card shows
// as the file's expected first line.
export const regressorHeader = 'name,date,province,city,class,value';

// uploadRegressors posts a regressor CSV as the body (text/csv); the
// server checks the whole file and answers 400 naming the line and column
// of the first bad value, writing nothing.
export async function uploadRegressors(file: Blob): Promise<DemandRegressors> {
  const headers: Record<string, string> = { 'Content-Type': 'text/csv' };
  const token = getToken();
  if (token) headers['Authorization'] = 'Bearer ' + token;
  const res = await fetch('/api/v1/demand/regressors', { method: 'POST', headers, body: file });
  const text = await res.text();
  let data: any;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = { message: text };
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data as DemandRegressors;
}

// daysBetween counts the days from a to b (YYYY-MM-DD), both included.
export function daysBetween(a: string, b: string): number {
  return Math.round((Date.parse(b + 'T00:00:00Z') - Date.parse(a + 'T00:00:00Z')) / 86400_000) + 1;
}

// futureDays is how many of a regressor's days lie after today (a
// Beijing day, YYYY-MM-DD): the days a forecast from today can use. A
// regressor loaded only for the past improves the fit but not the coming
// forecast.
export function futureDays(r: RegressorSummary, today: string): number {
  if (r.to <= today) return 0;
  const first = r.from > today ? r.from : today;
  return daysBetween(first, r.to) - (first === today ? 1 : 0);
}

// beijingToday is the current Beijing day as YYYY-MM-DD.
export function beijingToday(now: Date = new Date()): string {
  return new Date(now.getTime() + 8 * 3600_000).toISOString().slice(0, 10);
}
