import { Alert } from 'antd';
import { LoadingOutlined, SyncOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import type { Campaign, Uplift } from '../../api';
import { useName } from '../../i18n';
import { fmtInt, fmtPct, fmtTime } from '../../components/common';
import { refreshMs, sendCounts } from './useCampaignResults';

// LiveBanner says what a scheduled or running campaign is doing: when it
// starts, how far its sending got, or what its automation does; nothing
// for one that finished.
export default function LiveBanner({ c, u }: { c: Campaign; u: Uplift }) {
  const { t } = useTranslation();
  const name = useName();
  const triggered = c.trigger === 'segment_entry' || c.trigger === 'replenishment' || c.trigger === 'demand_surge';
  const seconds = refreshMs / 1000;
  if (c.status === 'scheduled') {
    return <Alert type="warning" showIcon icon={<SyncOutlined spin />} style={{ marginBottom: 16 }} data-testid="live-banner"
      message={t('campaignResults.scheduledSendingStarts', { start_at: fmtTime(c.start_at) })}
      description={t('campaignResults.pageRefreshesEveryS', { seconds })} />;
  }
  if (c.status === 'running' && !triggered) {
    const { total, processed } = sendCounts(u);
    return <Alert type="info" showIcon icon={<LoadingOutlined />} style={{ marginBottom: 16 }} data-testid="live-banner"
      message={total > 0
        ? t('campaignResults.sendingProcessed', { processed: fmtInt(processed), total: fmtInt(total), percent: fmtPct(processed / total, 0) })
        : t('campaignResults.sendingNow')}
      description={t('campaignResults.planWrittenPlatformSending', { seconds })} />;
  }
  if (c.status === 'running') {
    return <Alert type="info" showIcon icon={<SyncOutlined spin />} style={{ marginBottom: 16 }} data-testid="live-banner"
      message={c.trigger === 'segment_entry'
        ? t('campaignResults.automationRunningPeopleSent')
        : c.trigger === 'demand_surge' ? t('campaignResults.surgeRunning', { class: c.surge?.class ?? '' })
        : t('campaignResults.replenishmentRunningEveryHour', { days: c.lead_days || 3, kind: name(c.replenish_kind || ''), kindLower: name(c.replenish_kind || '').toLowerCase() })}
      description={<>{c.end_at ? t('campaignResults.ends', { end_at: fmtTime(c.end_at) }) : t('campaignResults.noEndSet')}{t('campaignResults.pageRefreshesEveryS', { seconds })}</>} />;
  }
  return null;
}
