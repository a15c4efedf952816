import { useEffect, useState } from 'react';
import { Alert, Button, Card, Empty, Space, Table, Tag, Typography, Upload } from 'antd';
import { UploadOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { get, RegressorSummary } from '../../api';
import { useAuth } from '../../auth';
import { ErrorAlert, fmtTime } from '../../components/common';
import { beijingToday, futureDays, regressorHeader, uploadRegressors } from './regressors';

// RegressorsCard lists the forecast's external regressors (promotions,
// weather) loaded so far and lets an admin upload a regressor CSV: the
// whole file is checked by the server, a bad line named with its column.
export default function RegressorsCard() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const [loaded, setLoaded] = useState<RegressorSummary[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [imported, setImported] = useState<number | null>(null);
  useEffect(() => {
    get<{ regressors: RegressorSummary[] }>('/demand/regressors')
      .then((r) => setLoaded(r.regressors))
      .catch(setError);
  }, []);
  const onFile = (file: File) => {
    setBusy(true);
    setError(null);
    setImported(null);
    uploadRegressors(file)
      .then((r) => {
        setLoaded(r.regressors);
        setImported(r.imported ?? 0);
      })
      .catch(setError)
      .finally(() => setBusy(false));
    return false; // the upload is ours, not antd's
  };
  const today = beijingToday();
  return (
    <Card bordered={false} style={{ marginTop: 16 }} data-testid="demand-regressors" title={t('demand.regressors.title')}
      extra={can('admin') && (
        <Upload accept=".csv,text/csv" showUploadList={false} beforeUpload={onFile}>
          <Button icon={<UploadOutlined />} loading={busy} data-testid="demand-regressors-upload">{t('demand.regressors.upload')}</Button>
        </Upload>
      )}>
      <Typography.Paragraph type="secondary">
        {t('demand.regressors.help')} <Typography.Text code>{regressorHeader}</Typography.Text>
      </Typography.Paragraph>
      {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
      {imported !== null && <Alert type="success" showIcon style={{ marginBottom: 16 }} message={t('demand.regressors.imported', { count: imported })} />}
      <Table<RegressorSummary> rowKey="name" size="small" dataSource={loaded ?? []} loading={!loaded && !error} pagination={false}
        locale={{ emptyText: <Empty description={t('demand.regressors.none')} /> }}
        columns={[
          { title: t('demand.regressors.name'), render: (_, r) => <Typography.Text code>{r.name}</Typography.Text> },
          { title: t('demand.regressors.span'), className: 'nowrap', render: (_, r) => `${r.from} – ${r.to}` },
          {
            title: t('demand.regressors.future'), className: 'nowrap',
            render: (_, r) => {
              const n = futureDays(r, today);
              return n > 0 ? <Tag color="green">{t('demand.regressors.futureDays', { count: n })}</Tag> : <Tag>{t('demand.regressors.pastOnly')}</Tag>;
            },
          },
          { title: t('demand.regressors.rows'), className: 'nowrap', render: (_, r) => r.rows.toLocaleString() },
          { title: t('demand.regressors.regions'), className: 'nowrap', render: (_, r) => r.regions.toLocaleString() },
          { title: t('demand.regressors.classes'), className: 'nowrap', render: (_, r) => r.classes.toLocaleString() },
          { title: t('demand.regressors.importedAt'), className: 'nowrap', render: (_, r) => <Space>{fmtTime(r.imported_at)}<Typography.Text type="secondary">{r.imported_by}</Typography.Text></Space> },
        ]} />
    </Card>
  );
}
