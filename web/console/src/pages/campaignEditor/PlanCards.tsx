import { useMemo } from 'react';
import { Alert, Card, Col, Row, Spin, Statistic, Table, Tooltip, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import type { Offer, Preview } from '../../api';
import { useName } from '../../i18n';
import { fmtInt } from '../../components/common';
import { renderTemplate, triggered } from './model';

// MessagePreview shows the template as a sample customer would read it.
export function MessagePreview({ template, offer }: { template: string; offer: Offer | undefined }) {
  const { t } = useTranslation();
  const rendered = useMemo(() => renderTemplate(template, {
    name: t('campaignEditor.mrsWang'), staff: t('campaignEditor.liNutritionAdviser'), offer: offer?.name || t('campaignEditor.offer'),
    link: offer?.link || 'https://…', coupon: 'LGI-8F3K',
  }), [template, offer, t]);
  return (
    <Card bordered={false} title={t('campaignEditor.messagePreview')} extra={<Typography.Text type="secondary">{t('campaignEditor.sampleCustomer')}</Typography.Text>}>
      <div className="preview-phone"><div className="preview-msg" data-testid="message-preview">{rendered || ' '}</div></div>
    </Card>
  );
}

// SendPlan shows the server's plan: how many are sent, held out and
// excluded (by reason, and those of the holdout), samples rendered by the
// server, and what a triggered campaign's plan means.
export function SendPlan({ preview, previewing, trigger }: { preview: Preview | null; previewing: boolean; trigger: string }) {
  const { t } = useTranslation();
  const name = useName();
  return (
    <Card bordered={false} title={t('campaignEditor.sendPlan')} style={{ marginTop: 16 }}>
      <Spin spinning={previewing} tip={t('campaignEditor.planning')}>
        {preview ? (
          <div data-testid="plan">
            <Row gutter={8}>
              <Col span={8}><Statistic title={t('campaignEditor.treatmentSent')} value={preview.counts.treatment ?? 0} valueStyle={{ color: '#1677ff' }} formatter={(v) => <span data-testid="plan-treatment">{fmtInt(Number(v))}</span>} /></Col>
              <Col span={8}><Statistic title={t('common.holdout')} value={preview.counts.holdout ?? 0} /></Col>
              <Col span={8}><Statistic title={t('campaignEditor.excluded')} value={preview.counts.excluded ?? 0} valueStyle={{ color: '#fa8c16' }} /></Col>
            </Row>
            <Table size="small" style={{ marginTop: 12 }} pagination={false} rowKey="reason"
              dataSource={Object.entries(preview.excluded || {}).map(([reason, n]) => ({ reason, n, h: preview.holdout_excluded?.[reason] ?? 0 }))
                .concat(Object.entries(preview.holdout_excluded || {}).filter(([r]) => !(preview.excluded || {})[r]).map(([reason, h]) => ({ reason, n: 0, h })))}
              locale={{ emptyText: t('campaignEditor.nobodyExcluded') }} data-testid="plan-excluded"
              columns={[{ title: t('campaignEditor.excludedBecause'), dataIndex: 'reason', render: (v) => name(v) }, { title: t('common.headcount'), dataIndex: 'n', align: 'right', render: fmtInt },
                { title: <Tooltip title={t('campaignEditor.capsChannelCapQuiet')}>{t('campaignEditor.themHoldout')}</Tooltip>,
                  dataIndex: 'h', align: 'right', render: (v: number) => (v ? fmtInt(v) : '–') }]} />
            {(preview.samples ?? []).length > 0 && <>
              <Typography.Title level={5} style={{ marginTop: 16 }}>{t('campaignEditor.personalisedSamplesRenderedServer')}</Typography.Title>
              {(preview.samples ?? []).map((s, i) => <div key={i} className="preview-msg" style={{ background: '#f6ffed' }}>{s}</div>)}
            </>}
            {triggered(trigger) && <Alert type="info" showIcon style={{ marginTop: 12 }} data-testid="plan-trigger-note" message={trigger === 'segment_entry'
              ? t('campaignEditor.segmentEntryReferencePlan')
              : trigger === 'demand_surge' ? t('campaignEditor.surgeReferencePlan')
              : t('campaignEditor.replenishmentReferencePlanAfter')} />}
            {(preview.counts.treatment ?? 0) === 0 && !triggered(trigger) && <Alert type="warning" showIcon style={{ marginTop: 12 }} message={t('campaignEditor.nobodySendCheckSegment')} />}
          </div>
        ) : (
          <Typography.Text type="secondary">{t('campaignEditor.clickPreviewPlanSee')}</Typography.Text>
        )}
      </Spin>
    </Card>
  );
}
