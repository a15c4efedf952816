import { ReactNode } from 'react';
import { Alert, Typography } from 'antd';
import { ApiError } from '../api';
import { useT } from '../i18n';

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

// ErrorAlert shows an API error as the server phrased it, with its code
// and the field (or rule position) it names.
export function ErrorAlert({ error, style }: { error: unknown; style?: React.CSSProperties }) {
  const t = useT();
  if (!error) return null;
  const e = error as ApiError;
  const where = [e.field && `${t('字段', 'field')} ${e.field}`, e.line && t(`第 ${e.line} 行第 ${e.column} 列`, `line ${e.line}, column ${e.column}`)]
    .filter(Boolean)
    .join(' · ');
  const title = e.status === 403 ? t('没有权限', 'Not allowed') : e.status === 404 ? t('未找到', 'Not found') : t('请求失败', 'Request failed');
  return (
    <Alert
      type="error"
      showIcon
      style={style}
      message={title}
      description={
        <span data-testid="api-error">
          {e.message}
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
