import { Link, useParams } from 'react-router-dom';
import { Alert, Col, Row, Skeleton, Space, Tag, Typography } from 'antd';
import { SyncOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { useName } from '../i18n';
import { ErrorAlert, PageTitle } from '../components/common';
import { statusColor } from './Campaigns';
import { isLive, useCampaignResults } from './campaignResults/useCampaignResults';
import LiveBanner from './campaignResults/LiveBanner';
import UpliftCards from './campaignResults/UpliftCards';
import DeliveryCards from './campaignResults/DeliveryCards';
import { GroupsCard, ResultCharts, SettingsCard } from './campaignResults/ResultDetails';

// CampaignResults shows a campaign's results, treatment against holdout,
// refreshed while it is scheduled or running: the uplift and its
// intervals, the sending and channel tasks, conversion over time, the
// groups and the campaign's settings (sections in ./campaignResults).
export default function CampaignResults() {
  const { t } = useTranslation();
  const name = useName();
  const { id } = useParams();
  const { c, u, d, tasks, offer, seg, error, refreshError, refreshedAt } = useCampaignResults(id);

  if (error) return <ErrorAlert error={error} />;
  if (!c || !u) return <Skeleton active paragraph={{ rows: 12 }} />;
  const live = isLive(c);
  return (
    <>
      <PageTitle title={<Space>{c.name}<Tag color={statusColor[c.status]} data-testid="campaign-status" data-status={c.status}>{name(c.status)}</Tag></Space>}
        sub={t('campaignResults.resultsTreatmentVsHoldout')}
        extra={<Space size="large">
          {live && refreshedAt && <Typography.Text type="secondary" data-testid="refreshed-at"><SyncOutlined spin /> {t('campaignResults.refreshingUpdated')} {refreshedAt.toLocaleTimeString('zh-CN', { hour12: false })}</Typography.Text>}
          <Link to="/campaigns">{t('common.backCampaigns')}</Link>
        </Space>} />
      {c.status === 'draft' && <Alert type="info" showIcon style={{ marginBottom: 16 }} message={t('campaignResults.notLaunchedYetNo')} action={<Link to={`/campaigns/${c.id}`}>{t('campaignResults.edit')}</Link>} />}
      <LiveBanner c={c} u={u} />
      {refreshError ? <ErrorAlert error={refreshError} style={{ marginBottom: 16 }} /> : null}
      <UpliftCards c={c} u={u} live={live} />
      {c.status !== 'draft' && <DeliveryCards c={c} u={u} tasks={tasks} live={live} />}
      <ResultCharts c={c} u={u} d={d} live={live} />
      <Row gutter={[16, 16]} style={{ marginTop: 16 }}>
        <Col xs={24} xl={14}><GroupsCard u={u} /></Col>
        <Col xs={24} xl={10}><SettingsCard c={c} offer={offer} seg={seg} /></Col>
      </Row>
    </>
  );
}
