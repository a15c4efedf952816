import { lazy, Suspense, useCallback, useEffect, useMemo, useState } from 'react';
import { Navigate, Route, Routes, useLocation, useNavigate } from 'react-router-dom';
import { App as AntApp, Avatar, Button, ConfigProvider, Dropdown, Layout, Menu, Segmented, Space, Spin, Tag, theme, Typography } from 'antd';
import {
  AimOutlined, AppstoreOutlined, CloudUploadOutlined, DashboardOutlined, LineChartOutlined, LogoutOutlined, NodeIndexOutlined, NotificationOutlined, RiseOutlined, TagsOutlined,
  SettingOutlined, TeamOutlined, UserOutlined,
} from '@ant-design/icons';
import zhCN from 'antd/locale/zh_CN';
import enUS from 'antd/locale/en_US';
import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn';
import { api, getToken, Principal, setToken, setUnauthorizedHandler } from './api';
import { useTranslation } from 'react-i18next';
import { Lang, useLang, useName } from './i18n';
import { AuthContext, useAuth } from './auth';
import SignIn from './pages/SignIn';

const Overview = lazy(() => import('./pages/Overview'));
const Segments = lazy(() => import('./pages/Segments'));
const SegmentBuilder = lazy(() => import('./pages/SegmentBuilder'));
const Profiles = lazy(() => import('./pages/Profiles'));
const Profile = lazy(() => import('./pages/Profile'));
const Campaigns = lazy(() => import('./pages/Campaigns'));
const CampaignEditor = lazy(() => import('./pages/CampaignEditor'));
const CampaignResults = lazy(() => import('./pages/CampaignResults'));
const Journeys = lazy(() => import('./pages/Journeys'));
const JourneyDetail = lazy(() => import('./pages/JourneyDetail'));
const JourneyEditor = lazy(() => import('./pages/JourneyEditor'));
const WeCom = lazy(() => import('./pages/WeCom'));
const Settings = lazy(() => import('./pages/Settings'));
const Import = lazy(() => import('./pages/Import'));
const Analytics = lazy(() => import('./pages/analytics/Analytics'));
const Demand = lazy(() => import('./pages/Demand'));

export default function App() {
  const { lang } = useLang();
  useEffect(() => {
    dayjs.locale(lang === 'zh' ? 'zh-cn' : 'en');
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  }, [lang]);
  return (
    <ConfigProvider locale={lang === 'zh' ? zhCN : enUS} theme={{ token: { colorPrimary: '#1677ff', borderRadius: 6 } }}>
      <AntApp>
        <Authed />
      </AntApp>
    </ConfigProvider>
  );
}

function Authed() {
  const [me, setMe] = useState<Principal | null>(null);
  const [checking, setChecking] = useState(!!getToken());
  const navigate = useNavigate();
  const location = useLocation();
  const signOut = useCallback(() => {
    setToken(null);
    setMe(null);
  }, []);
  useEffect(() => {
    setUnauthorizedHandler(signOut);
    if (!getToken()) return;
    api<Principal>('GET', '/whoami')
      .then(setMe)
      .catch(() => signOut())
      .finally(() => setChecking(false));
  }, [signOut]);
  const auth = useMemo(() => ({
    me,
    can: (need: 'admin' | 'marketer' | 'analyst') => {
      const rank = { analyst: 1, marketer: 2, admin: 3 } as const;
      return !!me && !!me.role && rank[me.role] >= rank[need];
    },
    signIn: (p: Principal, token: string, remember: boolean) => {
      setToken(token, remember);
      setMe(p);
      const from = (location.state as any)?.from;
      navigate(from && from !== '/signin' ? from : '/', { replace: true });
    },
    signOut,
  }), [me, signOut, navigate, location.state]);

  if (checking) return <Spin fullscreen />;
  return (
    <AuthContext.Provider value={auth}>
      {me ? (
        <Shell />
      ) : (
        <Routes>
          <Route path="/signin" element={<SignIn />} />
          <Route path="*" element={<Navigate to="/signin" replace state={{ from: location.pathname }} />} />
        </Routes>
      )}
    </AuthContext.Provider>
  );
}

function Shell() {
  const { t } = useTranslation();
  const name = useName();
  const { lang, setLang } = useLang();
  const navigate = useNavigate();
  const location = useLocation();
  const [collapsed, setCollapsed] = useState(false);
  const { me, signOut } = useAuth();
  const { token } = theme.useToken();
  const section = '/' + (location.pathname.split('/')[1] || '');
  const items = [
    { key: '/', icon: <DashboardOutlined />, label: t('common.overview') },
    { key: '/segments', icon: <AimOutlined />, label: t('common.segments') },
    { key: '/analytics', icon: <LineChartOutlined />, label: t('common.analytics') },
    { key: '/profiles', icon: <TeamOutlined />, label: t('common.profiles') },
    { key: '/campaigns', icon: <NotificationOutlined />, label: t('common.campaigns') },
    { key: '/journeys', icon: <NodeIndexOutlined />, label: t('common.journeys') },
    { key: '/wecom', icon: <TagsOutlined />, label: t('common.wecom') },
    { key: '/demand', icon: <RiseOutlined />, label: t('common.demand') },
    { key: '/import', icon: <CloudUploadOutlined />, label: t('common.dataImport') },
    { key: '/settings', icon: <SettingOutlined />, label: t('common.settings') },
  ];
  return (
    <Layout style={{ minHeight: '100vh' }}>
      <Layout.Sider collapsible collapsed={collapsed} onCollapse={setCollapsed} width={216}>
        <div style={{ position: 'sticky', top: 0 }}>
          <div className="cdp-logo">
            <img src="/favicon.svg" alt="" />
            {!collapsed && <span>{t('common.granaryCdp')}</span>}
          </div>
          <Menu theme="dark" mode="inline" selectedKeys={[section]} items={items} onClick={(e) => navigate(e.key)} />
        </div>
      </Layout.Sider>
      <Layout>
        <Layout.Header className="cdp-header">
          <Space>
            <AppstoreOutlined style={{ color: token.colorPrimary }} />
            <Typography.Text type="secondary">{t('app.customerDataPlatformGrain')}</Typography.Text>
          </Space>
          <Space size="large">
            <Segmented
              size="small"
              data-testid="lang-switch"
              value={lang}
              onChange={(v) => setLang(v as Lang)}
              options={[{ label: '中文', value: 'zh' }, { label: 'English', value: 'en' }]}
            />
            <Dropdown
              menu={{ items: [{ key: 'out', icon: <LogoutOutlined />, label: t('app.signOut'), onClick: signOut }] }}
            >
              <Space style={{ cursor: 'pointer' }} data-testid="whoami">
                <Avatar size="small" icon={<UserOutlined />} style={{ background: token.colorPrimary }} />
                <span>{me?.name}</span>
                <Tag color={me?.role === 'admin' ? 'gold' : me?.role === 'marketer' ? 'blue' : 'default'}>{name(me?.role || '')}</Tag>
              </Space>
            </Dropdown>
            <Button type="text" size="small" icon={<LogoutOutlined />} onClick={signOut} aria-label={t('app.signOut')} />
          </Space>
        </Layout.Header>
        <Layout.Content className="cdp-content">
          <Suspense fallback={<Spin style={{ display: 'block', margin: '120px auto' }} />}>
            <Routes>
              <Route path="/" element={<Overview />} />
              <Route path="/segments" element={<Segments />} />
              <Route path="/segments/new" element={<SegmentBuilder />} />
              <Route path="/segments/:id" element={<SegmentBuilder />} />
              <Route path="/profiles" element={<Profiles />} />
              <Route path="/profiles/:id" element={<Profile />} />
              <Route path="/campaigns" element={<Campaigns />} />
              <Route path="/campaigns/new" element={<CampaignEditor />} />
              <Route path="/campaigns/:id" element={<CampaignEditor />} />
              <Route path="/campaigns/:id/results" element={<CampaignResults />} />
              <Route path="/journeys" element={<Journeys />} />
              <Route path="/journeys/new" element={<JourneyEditor />} />
              <Route path="/journeys/:id" element={<JourneyDetail />} />
              <Route path="/journeys/:id/edit" element={<JourneyEditor />} />
              <Route path="/wecom" element={<WeCom />} />
              <Route path="/demand" element={<Demand />} />
              <Route path="/analytics" element={<Analytics />} />
              <Route path="/analytics/:tab" element={<Analytics />} />
              <Route path="/import" element={<Import />} />
              <Route path="/settings" element={<Settings />} />
              <Route path="/signin" element={<Navigate to="/" replace />} />
              <Route path="*" element={<Navigate to="/" replace />} />
            </Routes>
          </Suspense>
        </Layout.Content>
      </Layout>
    </Layout>
  );
}

