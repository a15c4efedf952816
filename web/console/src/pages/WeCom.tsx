import { useSearchParams } from 'react-router-dom';
import { Tabs } from 'antd';
import { useTranslation } from 'react-i18next';
import { PageTitle } from '../components/common';
import { tabKey } from './wecom/model';
import TagSyncs from './wecom/TagSyncs';
import ContactWays from './wecom/ContactWays';
import Welcomes from './wecom/Welcomes';
import LostCustomers from './wecom/LostCustomers';
import Transfers from './wecom/Transfers';
import Groups from './wecom/Groups';
import GroupSends from './wecom/GroupSends';
import Moments from './wecom/Moments';

// WeCom is the private-domain operations page (docs/wecom.md), one tab a
// subject; the active tab is in the link (/wecom?tab=<tab>), so a copied
// link opens it. It is a query parameter, not a path: the server answers
// every path under /wecom/ as WeCom's (its callback is /wecom/callback).
export default function WeCom() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  return (
    <>
      <PageTitle title={t('common.wecom')} sub={t('wecom.subtitle')} />
      <Tabs activeKey={tabKey(params.get('tab') ?? undefined)} onChange={(k) => setParams({ tab: k })} destroyInactiveTabPane data-testid="wecom-tabs"
        items={[
          { key: 'tags', label: t('wecom.tabs.tags'), children: <TagSyncs /> },
          { key: 'qr', label: t('wecom.tabs.qr'), children: <ContactWays /> },
          { key: 'welcome', label: t('wecom.tabs.welcome'), children: <Welcomes /> },
          { key: 'lost', label: t('wecom.tabs.lost'), children: <LostCustomers /> },
          { key: 'transfers', label: t('wecom.tabs.transfers'), children: <Transfers /> },
          { key: 'groups', label: t('wecom.tabs.groups'), children: <Groups /> },
          { key: 'group-sends', label: t('wecom.tabs.groupSends'), children: <GroupSends /> },
          { key: 'moments', label: t('moments.title'), children: <Moments /> },
        ]} />
    </>
  );
}
