import { Alert, Button, Select, Space, Table, Tag, Tooltip, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import type { components } from '../../api.gen';
import { useErrorText } from '../../components/common';

export type ImportPreview = components['schemas']['ImportPreview'];
type PreviewRow = components['schemas']['PreviewRow'];

// MappingTable shows each column of the file and the field it is stored
// as; changing a field records an override (column → field, "" to skip
// the column), which the next preview and the import send as mapping.
export function MappingTable({ preview, overrides, onChange }: {
  preview: ImportPreview;
  overrides: Record<string, string>;
  onChange: (column: string, field: string) => void;
}) {
  const { t } = useTranslation();
  const options = [{ value: '', label: t('import.ignore') }, ...preview.fields.map((f) => ({ value: f, label: f }))];
  return (
    <Table
      data-testid="import-mapping"
      size="small"
      rowKey="name"
      pagination={false}
      scroll={{ y: 320 }}
      dataSource={preview.columns}
      columns={[
        { title: t('import.column'), dataIndex: 'name', width: '45%' },
        {
          title: t('import.field'),
          render: (_, c) => {
            const value = c.name in overrides ? overrides[c.name] : c.fallback ? '' : c.field;
            const opts = value && !preview.fields.includes(value) ? [...options, { value, label: value }] : options;
            return (
              <Space>
                <Select size="small" style={{ minWidth: 200 }} showSearch optionFilterProp="label" value={value} options={opts} onChange={(v) => onChange(c.name, v)} />
                {c.fallback && !(c.name in overrides) && (
                  <Tooltip title={t('import.fallback')}><Tag>{c.field}</Tag></Tooltip>
                )}
              </Space>
            );
          },
        },
      ]}
    />
  );
}

// summary is one line of what a previewed record will be stored as.
function useSummary() {
  const { t } = useTranslation();
  return (r: PreviewRow) => {
    const rec = (r.record ?? {}) as Record<string, any>;
    if ('order_id' in rec) {
      return t('import.orderSummary', {
        id: rec.order_id, status: rec.status, amount: rec.amount,
        place: [rec.province, rec.city].filter(Boolean).join(' ') || '—', lines: (rec.lines ?? []).length,
      });
    }
    const ids = (rec.ids ?? []).map((i: { type: string }) => i.type).join(', ');
    return t('import.eventSummary', { event: rec.event, time: rec.ts, ids: ids || '—' });
  };
}

// PreviewRows lists the previewed records: as stored, or why refused.
export function PreviewRows({ preview }: { preview: ImportPreview }) {
  const { t } = useTranslation();
  const summary = useSummary();
  const errorText = useErrorText();
  return (
    <>
      {preview.phones_dropped > 0 && (
        <Alert type="info" showIcon style={{ marginBottom: 8 }} message={t('import.phonesDropped', { count: preview.phones_dropped })} />
      )}
      <Table
        data-testid="import-rows"
        size="small"
        rowKey="line"
        pagination={false}
        scroll={{ y: 360 }}
        dataSource={preview.rows}
        expandable={{
          rowExpandable: (r) => !!r.record || !!r.text,
          expandedRowRender: (r) => <pre style={{ maxHeight: 240, overflow: 'auto', margin: 0, fontSize: 12 }}>{r.record ? JSON.stringify(r.record, null, 2) : r.text}</pre>,
        }}
        columns={[
          { title: t('import.line'), dataIndex: 'line', width: 72 },
          {
            title: t('import.result'), width: 110,
            render: (_, r) => (r.problem ? <Tag color="red">{t('import.refused')}</Tag> : <Tag color="green">{t('import.stored')}</Tag>),
          },
          {
            title: t('import.content'),
            render: (_, r) => {
              if (!r.problem) return summary(r);
              const { text, detail } = errorText(r.problem);
              return (
                <Typography.Text type="danger">
                  {text}{detail && t('common.colon') + detail}{r.problem.field && ` (${r.problem.field})`}
                </Typography.Text>
              );
            },
          },
        ]}
      />
    </>
  );
}

// ResetMapping offers to drop the operator's overrides.
export function ResetMapping({ count, onReset }: { count: number; onReset: () => void }) {
  const { t } = useTranslation();
  if (count === 0) return null;
  return (
    <Space style={{ marginBottom: 8 }}>
      <Typography.Text type="secondary">{t('import.mappingEdited', { count })}</Typography.Text>
      <Button size="small" onClick={onReset}>{t('import.resetMapping')}</Button>
    </Space>
  );
}
