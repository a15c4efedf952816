// The management API client: bearer token from sign-in, JSON errors
// ({code, message, field, line, column}) raised as ApiError.

export class ApiError extends Error {
  status: number;
  code: string;
  field?: string;
  line?: number;
  column?: number;
  constructor(status: number, body: any) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || 'http_' + status;
    this.field = body?.field;
    this.line = body?.line;
    this.column = body?.column;
  }
}

const TOKEN_KEY = 'cdp.token';

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY) || localStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null, remember = false) {
  sessionStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(TOKEN_KEY);
  if (token) (remember ? localStorage : sessionStorage).setItem(TOKEN_KEY, token);
}

let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(f: () => void) {
  onUnauthorized = f;
}

export async function api<T = any>(method: string, path: string, body?: unknown, opts: { signal?: AbortSignal; token?: string } = {}): Promise<T> {
  const headers: Record<string, string> = {};
  const token = opts.token ?? getToken();
  if (token) headers['Authorization'] = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch('/api/v1' + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: opts.signal,
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: any = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = { message: text };
  }
  if (!res.ok) {
    if (res.status === 401 && !opts.token) onUnauthorized();
    throw new ApiError(res.status, data);
  }
  return data as T;
}

export const get = <T = any>(path: string, signal?: AbortSignal) => api<T>('GET', path, undefined, { signal });
export const post = <T = any>(path: string, body?: unknown, signal?: AbortSignal) => api<T>('POST', path, body ?? {}, { signal });

// upload sends a file with XMLHttpRequest so that the browser's upload
// progress events drive the progress bar; the promise settles with the
// server's answer.
export function upload(url: string, file: Blob, writeKey: string, onProgress: (loaded: number, total: number) => void, onUploaded: () => void): Promise<any> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.setRequestHeader('Authorization', 'Basic ' + btoa(writeKey + ':'));
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.upload.onload = () => onUploaded();
    xhr.onerror = () => reject(new ApiError(0, { message: 'network error' }));
    xhr.onload = () => {
      let data: any = undefined;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = { message: xhr.responseText };
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, data));
    };
    xhr.send(file);
  });
}

// Types of the answers the console reads.
export type Role = 'admin' | 'marketer' | 'analyst';
export interface Principal { id: string; name: string; role: Role }
export interface Count { value: string; count: number }
export interface Estimate { count: number; universe: number; sample: number[]; by_city: Count[]; by_channel: Count[]; took_ms: number }
export interface Segment { id: string; version: number; name: string; description: string; rule: string; live: boolean; created_at: string; created_by: string; size: number; computed_at: string }
export interface Offer { id: string; version: number; name: string; skus: string[] | null; categories: string[] | null; link?: string; valid_from: string; valid_to: string }
export interface Campaign {
  id: string; version: number; name: string; offer_id: string; segment_id: string; channel: string; template: string;
  targets?: string[]; trigger: string; replenish_kind?: string; lead_days?: number; start_at?: string; end_at?: string;
  holdout_percent: number; global_control_percent: number; cap_per_day?: number; cap_per_week: number; cap_per_month?: number;
  quiet_start: number; quiet_end: number; send_limit: number; attribution_days: number; status: string; launched_at?: string; created_by: string;
}
export interface Arm { persons: number; converted: number; rate: number; revenue: number; revenue_per_person: number; reached?: number }
// An estimate with its fixed-horizon 95% interval (ci95: valid read once, at
// the end) and its anytime-valid 95% confidence sequence (cs95: valid at
// every refresh).
export interface Interval { estimate: number; se: number; ci95: [number, number]; cs95: [number, number] }
export interface Effect extends Interval {
  significant: boolean; // the sequence (of the CUPED estimate) excludes 0
  cuped?: Interval & { variance_reduction: number; narrowing: number };
  complier?: { delivery_rate: number; estimate: number; se: number; ci95: [number, number] };
}
// By intention to treat: the treatment is everyone assigned to it. sends:
// the treatment's sends by state (planned, sending, sent, delivered,
// failed) and failures by reason ("failed:not_friend", ...).
export interface Uplift {
  treatment: Arm; holdout: Arm; absolute: number; absolute_ci95: [number, number]; relative?: number; relative_ci95?: [number, number];
  conversion?: Effect; revenue_per_person?: Effect; sends?: Record<string, number>; excluded?: Record<string, number>; holdout_excluded?: Record<string, number>;
}
// A channel task: a WeCom mass-message task per staff member, a robot post,
// a webhook batch.
export interface ChannelTask { id: string; target: string; recipients: number; state: string; ref?: string; detail?: string; attempt_at: string }
// Configured channels (names only; never URLs or secrets).
export interface ChannelSettings { wecom: boolean; wecom_daily_cap: number; robots: string[]; webhooks: string[] }
export interface PersonSummary { person_id: number; name?: string; phone?: string; city?: string; orders: number; spend: number; last_order?: string }
