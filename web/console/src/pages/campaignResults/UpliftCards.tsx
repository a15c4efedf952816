import { Alert, Card, Col, Row, Space, Statistic, Tooltip, Typography } from 'antd';
import { InfoCircleOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import type { Campaign, Uplift } from '../../api';
import { fmtInt, fmtPct, fmtYuan } from '../../components/common';
import { pp, ppRange } from './useCampaignResults';

const yuanRange = (r: [number, number]) => `[${fmtYuan(r[0])}, ${fmtYuan(r[1])}]`;

// UpliftCards show the conversion of treatment and holdout, the uplift
// with its intervals, whether it is significant, and the effects on those
// reached, CUPED-adjusted and on revenue.
export default function UpliftCards({ c, u, live }: { c: Campaign; u: Uplift; live: boolean }) {
  const { t } = useTranslation();
  const empty = u.treatment.persons === 0 || u.holdout.persons === 0;
  // The badge reads the anytime-valid confidence sequence: this page
  // refreshes every few seconds, and a fixed interval read again and again
  // claims an effect far more often than 5% of the time.
  const conv = u.conversion;
  const significant = !empty && !!conv?.significant;
  const headline = conv?.cuped ?? conv;
  return (
    <>
      <Row gutter={[16, 16]} data-testid="results" data-status={c.status}>
        <Col xs={24} sm={12} xl={6}><Card bordered={false}><Statistic title={t('campaignResults.treatmentConversion')} value={fmtPct(u.treatment.rate, 2)} valueStyle={{ color: '#1677ff' }} />
          <Typography.Text type="secondary">{fmtInt(u.treatment.converted)} / {fmtInt(u.treatment.persons)} {t('common.people')}</Typography.Text></Card></Col>
        <Col xs={24} sm={12} xl={6}><Card bordered={false}><Statistic title={t('campaignResults.holdoutConversion')} value={fmtPct(u.holdout.rate, 2)} />
          <Typography.Text type="secondary">{fmtInt(u.holdout.converted)} / {fmtInt(u.holdout.persons)} {t('common.people')}</Typography.Text></Card></Col>
        <Col xs={24} sm={12} xl={6}><Card bordered={false}>
          <Statistic title={<Space>{t('campaignResults.upliftAbsolute')}<Tooltip title={t('campaignResults.differenceConversionRatesTreatment')}><InfoCircleOutlined /></Tooltip></Space>}
            value={pp(u.absolute)} valueStyle={{ color: u.absolute >= 0 ? '#389e0d' : '#cf1322' }} formatter={(v) => <span data-testid="uplift">{v}</span>} />
          {empty || !conv ? <Typography.Text type="secondary">{t('campaignResults.tooFewPeopleInterval')}</Typography.Text> : <>
            <Typography.Text type="secondary" style={{ display: 'block' }} data-testid="uplift-cs" data-lo={conv.cs95[0]} data-hi={conv.cs95[1]}>{t('campaignResults.anytimeValidSequence')} {ppRange(conv.cs95)}</Typography.Text>
            <Typography.Text type="secondary" style={{ display: 'block' }} data-testid="uplift-ci" data-lo={conv.ci95[0]} data-hi={conv.ci95[1]}>{t('campaignResults.fixedHorizonCi')} {ppRange(conv.ci95)}</Typography.Text>
          </>}
        </Card></Col>
        <Col xs={24} sm={12} xl={6}><Card bordered={false}>
          <Statistic title={t('campaignResults.relativeUplift')} value={u.relative !== undefined ? fmtPct(u.relative, 1) : '–'} valueStyle={{ color: (u.relative ?? 0) >= 0 ? '#389e0d' : '#cf1322' }} />
          <Typography.Text type="secondary">{u.relative_ci95 ? `${t('campaignResults.ci')} [${fmtPct(u.relative_ci95[0], 1)}, ${fmtPct(u.relative_ci95[1], 1)}]` : t('campaignResults.holdoutConvertedNobody')}</Typography.Text>
        </Card></Col>
      </Row>
      {c.status !== 'draft' && !live && empty && (
        <Alert style={{ marginTop: 16 }} showIcon type="warning" message={t('campaignResults.treatmentHoldoutEmptySo')} />
      )}
      {c.status !== 'draft' && !empty && (
        <Alert style={{ marginTop: 16 }} showIcon type={significant ? (u.absolute > 0 ? 'success' : 'error') : 'info'}
          message={significant
            ? ((headline?.estimate ?? u.absolute) > 0 ? t('campaignResults.significantAnytimeValidSequence') : t('campaignResults.significantlyNegativeCampaignLowered'))
            : t('campaignResults.notSignificantYetAnytime')}
          data-testid="significance" data-significant={significant ? 'yes' : 'no'} />
      )}
      {c.status !== 'draft' && !empty && conv && <Effects u={u} />}
    </>
  );
}

// Effects: on those reached (the complier effect), CUPED-adjusted, and on
// revenue per person.
function Effects({ u }: { u: Uplift }) {
  const { t } = useTranslation();
  const conv = u.conversion!;
  const rev = u.revenue_per_person;
  return (
    <Row gutter={[16, 16]} style={{ marginTop: 16 }} data-testid="effects">
      <Col xs={24} md={8}><Card bordered={false} style={{ height: '100%' }}>
        <Statistic title={<Space>{t('campaignResults.effectThoseReached')}<Tooltip title={t('campaignResults.intentionTreatEffectDelivery')}><InfoCircleOutlined /></Tooltip></Space>}
          value={conv.complier ? pp(conv.complier.estimate) : '–'} formatter={(v) => <span data-testid="complier">{v}</span>} />
        {conv.complier && <Typography.Text type="secondary">{t('campaignResults.deliveryRateCi', { delivery_rate: fmtPct(conv.complier.delivery_rate, 1) })} {ppRange(conv.complier.ci95)}</Typography.Text>}
      </Card></Col>
      <Col xs={24} md={8}><Card bordered={false} style={{ height: '100%' }}>
        <Statistic title={<Space>{t('campaignResults.cupedAdjustedUplift')}<Tooltip title={t('campaignResults.adjustedEachPersonsOrders')}><InfoCircleOutlined /></Tooltip></Space>}
          value={conv.cuped ? pp(conv.cuped.estimate) : '–'} formatter={(v) => <span data-testid="cuped">{v}</span>} />
        {conv.cuped ? <>
          <Typography.Text type="secondary" style={{ display: 'block' }}>{t('campaignResults.anytimeValidSequence')} {ppRange(conv.cuped.cs95)}</Typography.Text>
          <Typography.Text type="secondary" style={{ display: 'block' }}>{t('campaignResults.fixedHorizonCi')} {ppRange(conv.cuped.ci95)}</Typography.Text>
          <Typography.Text type="secondary" style={{ display: 'block' }} data-testid="cuped-narrowing">{t('campaignResults.intervalsNarrowerVarianceLower', { narrowing: fmtPct(conv.cuped.narrowing, 1), variance_reduction: fmtPct(conv.cuped.variance_reduction, 1) })}</Typography.Text>
        </> : <Typography.Text type="secondary">{t('campaignResults.nobodyBoughtOffersItems')}</Typography.Text>}
      </Card></Col>
      <Col xs={24} md={8}><Card bordered={false} style={{ height: '100%' }}>
        <Statistic title={t('campaignResults.revenuePerPersonUplift')} value={rev ? fmtYuan(rev.estimate) : '–'} formatter={(v) => <span data-testid="revenue-uplift">{v}</span>} />
        {rev && <>
          <Typography.Text type="secondary" style={{ display: 'block' }}>{t('campaignResults.anytimeValidSequence')} {yuanRange(rev.cs95)}</Typography.Text>
          <Typography.Text type="secondary" style={{ display: 'block' }}>{t('campaignResults.fixedHorizonCi')} {yuanRange(rev.ci95)}</Typography.Text>
        </>}
      </Card></Col>
    </Row>
  );
}
