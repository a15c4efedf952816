import { ReactNode } from 'react';
import { Alert, Typography } from 'antd';
import { ApiError } from '../api';
import { useTranslation } from 'react-i18next';

export function PageTitle({ title, extra, sub }: { title: ReactNode; extra?: ReactNode; sub?: ReactNode }) {
  return (
    <div className="cdp-page-title">
      <div>
        <h2>{title}</h2>
        {sub && <Typography.Text type="secondary">{sub}</Typography.Text>}
      </div>
      <div>{extra}</div>
    </div>
  );
}

// useErrorText says what an API error means in the console's language,
// by its code (catalog namespace "errors"); a code the catalog does not
// know falls back to the server's message. detail is the server's own
// message when it adds to that (it names the field or the limit).
export function useErrorText() {
  const { t, i18n } = useTranslation();
  return (e: { code?: string; message?: string }) => {
    const key = 'errors.' + (e.code ?? '');
    const text = e.code && i18n.exists(key) ? t(key as 'errors.internal') : '';
    return { text: text || e.message || '', detail: text && e.message && e.message !== text ? e.message : '' };
  };
}

// ErrorAlert shows an API error: what its code means in the user's
// language, the server's message, its code and the field (or rule
// position) it names.
export function ErrorAlert({ error, style }: { error: unknown; style?: React.CSSProperties }) {
  const { t } = useTranslation();
  const errorText = useErrorText();
  if (!error) return null;
  const e = error as ApiError;
  const where = [e.field && `${t('common.field')} ${e.field}`, e.line && t('common.lineColumn', { line: e.line, column: e.column })]
    .filter(Boolean)
    .join(' · ');
  const title = e.status === 403 ? t('common.notAllowed') : e.status === 404 ? t('common.notFound') : t('common.requestFailed');
  const { text, detail } = errorText(e);
  return (
    <Alert
      type="error"
      showIcon
      style={style}
      message={title}
      description={
        <span data-testid="api-error">
          {text}
          {detail && <>{t('common.colon')}{detail}</>}
          {(where || e.code) && (
            <Typography.Text type="secondary" style={{ marginLeft: 8 }}>
              ({[e.code, where].filter(Boolean).join(' · ')})
            </Typography.Text>
          )}
        </span>
      }
    />
  );
}

export const fmtInt = (n: number | undefined) => (n ?? 0).toLocaleString('zh-CN');
export const fmtPct = (r: number | undefined, digits = 1) => (r === undefined || r === null || isNaN(r) ? '–' : (r * 100).toFixed(digits) + '%');
export const fmtYuan = (n: number | undefined) => '¥' + (n ?? 0).toLocaleString('zh-CN', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
export const fmtTime = (s?: string) => (s && !s.startsWith('0001') ? new Date(s).toLocaleString('zh-CN', { hour12: false }) : '–');
export const fmtDate = (s?: string) => (s && !s.startsWith('0001') ? new Date(s).toLocaleDateString('zh-CN') : '–');
