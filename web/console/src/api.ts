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

// upload sends a file (or a multipart form holding one) with
// XMLHttpRequest so that the browser's upload progress events drive the
// progress bar; the promise settles with the server's answer.
export function upload(url: string, file: Blob | FormData, writeKey: string, onProgress: (loaded: number, total: number) => void, onUploaded: () => void): Promise<any> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.setRequestHeader('Authorization', 'Basic ' + btoa(writeKey + ':'));
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file instanceof Blob ? file.size : 0);
    xhr.upload.onload = () => onUploaded();
    xhr.onerror = () => reject(new ApiError(0, { code: 'network', message: 'network error' }));
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

// Types of what the API answers, generated from api/openapi.json
// (npm run api-types; `make test` checks api.gen.ts is up to date), which
// a Go test keeps in step with the handlers' Go types.
import type { components, paths } from './api.gen';

type Schemas = components['schemas'];

// Answer is the JSON a route answers with on success:
// Answer<'/api/v1/campaigns/{id}/tasks', 'get'>.
export type Answer<P extends keyof paths, M extends 'get' | 'post' | 'put' | 'delete'> =
  paths[P][M] extends { responses: infer R }
    ? R extends { 200: { content: { 'application/json': infer A } } }
      ? A
      : R extends { 201: { content: { 'application/json': infer A } } }
        ? A
        : never
    : never;

export type Role = NonNullable<Schemas['Principal']['role']>;
export type Principal = Schemas['Principal'];
export type CreatedCredential = Schemas['CreatedCredential'];
export type Count = Schemas['Count'];
export type Estimate = Schemas['Estimate'];
export type Overlap = Schemas['Overlap'];
export type Segment = Schemas['Segment'];
export type Offer = Schemas['Offer'];
export type Campaign = Schemas['Campaign'];
export type Arm = Schemas['Arm'];
export type Effect = Schemas['Effect'];
// Uplift is by intention to treat: the treatment is everyone assigned to
// it. sends: the treatment's sends by state (planned, sending, sent,
// delivered, failed) and failures by reason ("failed:not_friend", ...).
export type Uplift = Schemas['Uplift'];
export type ResultsOverTime = Schemas['ResultsOverTime'];
// A channel task: a WeCom mass-message task per staff member, a robot
// post, a webhook batch.
export type ChannelTask = Schemas['Task'];
// Configured channels (names only; never URLs or secrets).
export type ChannelSettings = Schemas['ChannelSettings'];
export type PersonSummary = Schemas['PersonSummary'];
export type Profile = Schemas['Profile'];
export type Merge = Schemas['Merge'];
export type Overview = Schemas['Overview'];
export type Preview = Answer<'/api/v1/campaigns/{id}/preview', 'post'>;
export type Launched = Answer<'/api/v1/campaigns/{id}/launch', 'post'>;
export type WeComSettings = Schemas['WeComSettings'];
export type SensitiveTag = Schemas['SensitiveTag'];
export type AuditPage = Schemas['AuditPage'];
export type ImportAnswer = Answer<'/v1/import/events', 'post'>;
export type LibraryTag = Schemas['LibraryTag'];
export type TagSync = Schemas['TagSync'];
export type SyncReport = Schemas['SyncReport'];
export type Journey = Schemas['Journey'];
export type JourneyNode = Schemas['JourneyNode'];
export type JourneyDefinition = Schemas['JourneyDefinition'];
export type JourneyEntry = Schemas['JourneyEntry'];
export type SurgeFilter = Schemas['SurgeFilter'];
export type JourneySettings = Schemas['JourneySettings'];
export type JourneyNodeCounts = Schemas['JourneyNodeCounts'];
export type JourneyResults = Schemas['JourneyResults'];
export type JourneyVersion = Schemas['JourneyVersion'];
export type JourneyPlace = Schemas['JourneyPlace'];
// Demand sensing (docs/demand.md): a surge alert with its evidence, a
// point of a demand series, a 14-day forecast with its intervals.
export type DemandAlert = Schemas['Alert'];
export type DemandPoint = Schemas['Point'];
export type DemandForecast = Schemas['Forecast'];
export type DemandRegressors = Schemas['DemandRegressors'];
export type RegressorSummary = Schemas['RegressorSummary'];
export type Items<T> = { items: T[] };
// WeCom private-domain operations (docs/wecom.md): channel QR codes,
// welcome messages and their journal, lost customers, transfers,
// customer groups and a group mass-message campaign's groups.
export type ContactWay = Schemas['ContactWay'];
export type ContactWayInput = Schemas['ContactWayInput'];
export type Welcome = Schemas['Welcome'];
export type WelcomeRequest = Schemas['WelcomeRequest'];
export type WelcomeEntry = Schemas['WelcomeEntry'];
export type LostCustomer = Schemas['LostCustomer'];
export type CustomerTransfer = Schemas['CustomerTransfer'];
export type TransferRequest = Schemas['TransferRequest'];
export type WeComGroup = Schemas['Group'];
export type GroupSend = Schemas['GroupSend'];

// getBlob fetches a binary answer (an image) with the bearer token, which
// an <img src> cannot send; errors are raised as ApiError.
export async function getBlob(path: string, signal?: AbortSignal): Promise<Blob> {
  const token = getToken();
  const res = await fetch('/api/v1' + path, { headers: token ? { Authorization: 'Bearer ' + token } : {}, signal });
  if (!res.ok) {
    let data: any = undefined;
    try {
      data = await res.json();
    } catch {
      data = undefined;
    }
    if (res.status === 401) onUnauthorized();
    throw new ApiError(res.status, data);
  }
  return res.blob();
}
