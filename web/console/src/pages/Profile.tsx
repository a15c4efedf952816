import { useCallback, useEffect, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { App, Card, Col, Row, Skeleton, Space, Tag } from 'antd';
import { BranchesOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { get, post } from '../api';
import type { Merge, Profile as ProfileT } from '../api';
import { ErrorAlert, PageTitle } from '../components/common';
import SideCards from './profile/SideCards';
import HistoryTabs from './profile/HistoryTabs';
import JourneysCard from './profile/JourneysCard';

// Profile is a person's 360° profile: identifiers, value, segments, and
// their history across channels, with the merges an admin may undo.
export default function Profile() {
  const { t } = useTranslation();
  const { id } = useParams();
  const { message } = App.useApp();
  const [p, setP] = useState<ProfileT | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [undoing, setUndoing] = useState<number | null>(null);
  const load = useCallback(() => {
    setError(null);
    get<ProfileT>('/profiles/' + id).then(setP).catch(setError);
  }, [id]);
  useEffect(load, [load]);

  const unmerge = async (m: Merge) => {
    setUndoing(m.id);
    try {
      await post(`/merges/${m.id}/unmerge`);
      message.success(t('profile.mergeUndoneOneidSplit', { id: m.id, absorbed: m.absorbed }));
      load();
    } catch (e) {
      setError(e);
    } finally {
      setUndoing(null);
    }
  };

  if (error && !p) return <ErrorAlert error={error} />;
  if (!p) return <Skeleton active avatar paragraph={{ rows: 12 }} />;
  const traits = (p.traits || {}) as Record<string, any>; // free-form JSON
  return (
    <>
      <PageTitle title={<Space>{traits.name || t('profile.customer')} <Tag color="blue" data-testid="profile-oneid">OneID {p.person_id}</Tag>{p.persons.length > 1 && <Tag icon={<BranchesOutlined />}>{t('profile.idsMerged', { ids: p.persons.length })}</Tag>}</Space>}
        sub={t('profile.profileTimelineAcrossChannels')}
        extra={<Link to="/profiles">{t('profile.findAnotherCustomer')}</Link>} />
      {error ? <ErrorAlert error={error} style={{ marginBottom: 16 }} /> : null}
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={8}><SideCards p={p} /><JourneysCard person={p.person_id} /></Col>
        <Col xs={24} xl={16}>
          <Card bordered={false}><HistoryTabs p={p} undoing={undoing} onUnmerge={unmerge} /></Card>
        </Col>
      </Row>
    </>
  );
}
