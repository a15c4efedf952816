import { useNavigate, useParams } from 'react-router-dom';
import { Tabs } from 'antd';
import { useTranslation } from 'react-i18next';
import { PageTitle } from '../../components/common';
import FunnelPage from './FunnelPage';
import RetentionPage from './RetentionPage';
import LifecyclePage from './LifecyclePage';

// Analytics is the analyses marketers ask before a campaign: funnels,
// repurchase retention and LTV, lifecycle. Each tab keeps its definition
// in the link, so a copied link opens the same analysis.
export default function Analytics() {
  const { t } = useTranslation();
  const { tab = 'funnel' } = useParams();
  const navigate = useNavigate();
  return (
    <>
      <PageTitle title={t('common.analytics')} sub={t('analytics.subtitle')} />
      <Tabs activeKey={tab} onChange={(k) => navigate('/analytics/' + k)} destroyInactiveTabPane data-testid="analytics-tabs"
        items={[
          { key: 'funnel', label: t('analytics.funnel'), children: <FunnelPage /> },
          { key: 'retention', label: t('analytics.retention'), children: <RetentionPage /> },
          { key: 'lifecycle', label: t('analytics.lifecycle'), children: <LifecyclePage /> },
        ]} />
    </>
  );
}
