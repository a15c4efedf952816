import { useEffect, useState } from 'react';
import { Button, Spin, Typography } from 'antd';
import { DownloadOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { ApiError, getBlob } from '../../api';
import { useErrorText } from '../../components/common';
import { pngName } from './model';

// QRImage shows a channel QR code's image, fetched with the console's
// token from GET /wecom/contact-ways/{state}/qr.png (the platform fetches
// it from WeCom), and a link that saves it as a PNG.
export default function QRImage({ state, size = 72, download = false }: { state: string; size?: number; download?: boolean }) {
  const { t } = useTranslation();
  const errorText = useErrorText();
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    const ctl = new AbortController();
    let made: string | null = null;
    setUrl(null);
    setError(null);
    getBlob(`/wecom/contact-ways/${encodeURIComponent(state)}/qr.png`, ctl.signal)
      .then((b) => {
        made = URL.createObjectURL(b);
        setUrl(made);
      })
      .catch((e) => !ctl.signal.aborted && setError(e));
    return () => {
      ctl.abort();
      if (made) URL.revokeObjectURL(made);
    };
  }, [state]);
  if (error) return <Typography.Text type="danger" data-testid="qr-error">{t('wecom.qr.imageFailed')}{t('common.colon')}{errorText(error).text}</Typography.Text>;
  if (!url) return <Spin size="small" />;
  return (
    <span style={{ display: 'inline-flex', alignItems: 'center', gap: 8 }}>
      <img src={url} alt={state} width={size} height={size} style={{ imageRendering: 'pixelated', border: '1px solid #eee' }} data-testid="qr-img" data-state={state} />
      {download && (
        <Button size="small" icon={<DownloadOutlined />} href={url} download={pngName(state)} data-testid="qr-download">{t('wecom.qr.download')}</Button>
      )}
    </span>
  );
}
