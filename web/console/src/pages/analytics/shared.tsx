import { ReactNode, useCallback, useEffect, useRef, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { App, Button, Space, Tag, Tooltip, Typography } from 'antd';
import { DownloadOutlined, FileImageOutlined, LinkOutlined, ReloadOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { post } from '../../api';
import { chartPNG, decodeDef, download, encodeDef } from './model';

type Meta = { key: string; computed_at: string; cached: boolean; millis: number };

// useAnalysis keeps a definition in the page's link (?q=...) and runs it
// against the API: opening a shared link runs the same analysis, answered
// from the server's cache while it is fresh. run(def) runs a new
// definition; refresh() recomputes the current one past the cache.
export function useAnalysis<D, R extends Meta>(path: string, initial: D) {
  const [params, setParams] = useSearchParams();
  const [def, setDef] = useState<D>(() => decodeDef<D>(params.get('q')) ?? initial);
  const [result, setResult] = useState<R | null>(null);
  const [ran, setRan] = useState<D | null>(null); // the definition of result
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const exec = useCallback((d: D, refresh = false) => {
    setLoading(true);
    setError(null);
    post<R>(path + (refresh ? '?refresh=1' : ''), d)
      .then((r) => { setResult(r); setRan(d); })
      .catch((e) => { setError(e); setResult(null); })
      .finally(() => setLoading(false));
  }, [path]);
  useEffect(() => {
    if (params.get('q')) exec(def);
    // Only a shared link runs on opening.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const run = useCallback((d: D) => {
    setDef(d);
    setParams((p) => { p.set('q', encodeDef(d)); return p; }, { replace: true });
    exec(d);
  }, [exec, setParams]);
  return { def, setDef, result, ran, error, loading, run, refresh: () => exec(ran ?? def, true) };
}

// ExportBar: where the result comes from, and CSV, PNG and link exports.
export function ExportBar({ meta, csv, chart, name }: { meta?: Meta | null; csv: () => string; chart: React.RefObject<HTMLDivElement>; name: string }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  if (!meta) return null;
  return (
    <Space wrap>
      <Typography.Text type="secondary" data-testid="result-meta">
        {meta.cached ? <Tag color="blue">{t('analytics.cached')}</Tag> : <Tag>{t('analytics.computedIn', { ms: meta.millis })}</Tag>}
        {new Date(meta.computed_at).toLocaleString('zh-CN', { hour12: false })}
      </Typography.Text>
      <Button size="small" icon={<DownloadOutlined />} data-testid="export-csv" onClick={() => download(name + '.csv', csv())}>CSV</Button>
      <Button size="small" icon={<FileImageOutlined />} data-testid="export-png" onClick={() => {
        const png = chartPNG(chart.current);
        if (png) download(name + '.png', png);
      }}>PNG</Button>
      <Tooltip title={t('analytics.shareHint')}>
        <Button size="small" icon={<LinkOutlined />} data-testid="share-link" onClick={() => {
          void navigator.clipboard?.writeText(window.location.href).then(() => message.success(t('analytics.linkCopied')), () => {});
        }}>{t('analytics.share')}</Button>
      </Tooltip>
    </Space>
  );
}

export function RefreshButton({ onClick, loading }: { onClick: () => void; loading: boolean }) {
  const { t } = useTranslation();
  return <Button icon={<ReloadOutlined />} onClick={onClick} loading={loading}>{t('analytics.recompute')}</Button>;
}

// ChartBox holds a chart for PNG export.
export function ChartBox({ children, boxRef }: { children: ReactNode; boxRef: React.RefObject<HTMLDivElement> }) {
  return <div ref={boxRef}>{children}</div>;
}

export const useChartRef = () => useRef<HTMLDivElement>(null);
