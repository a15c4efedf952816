import { Link, useParams } from 'react-router-dom';
import { Background, Controls, MiniMap, ReactFlow, ReactFlowProvider, useReactFlow } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useEffect } from 'react';
import { Alert, Button, Card, Dropdown, Popconfirm, Space, Tag, Typography } from 'antd';
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { useAuth } from '../auth';
import { ErrorAlert, PageTitle } from '../components/common';
import { journeyStatusColor } from './Journeys';
import { nodeTypes, typeColor, useHandleLabel } from './journeyEditor/CanvasNodes';
import EntryInspector from './journeyEditor/EntryInspector';
import { ENTRY, stepTypes } from './journeyEditor/graph';
import SettingsForm from './journeyEditor/SettingsForm';
import StepInspector from './journeyEditor/StepInspector';
import { blank, template, templateKeys } from './journeyEditor/templates';
import { useJourneyCanvas } from './journeyEditor/useJourneyCanvas';

// JourneyEditor is the journey canvas (React Flow): the entry and the
// steps as nodes, their ways out as edges drawn from a node's handles,
// an inspector for the selected node and the journey's settings. Save
// writes a new version through the API; an error the API answers is drawn
// on the node it names; a journey that exists shows its live per-node
// counts, refreshed while the page is open.
export default function JourneyEditor() {
  return (
    <ReactFlowProvider>
      <Canvas />
    </ReactFlowProvider>
  );
}

function Canvas() {
  const { t } = useTranslation();
  const { id } = useParams();
  const { can } = useAuth();
  const label = useHandleLabel();
  const c = useJourneyCanvas(id, label);
  const rf = useReactFlow();
  const count = c.nodes.length;
  // Keep every node in view as nodes come and go.
  useEffect(() => {
    const f = requestAnimationFrame(() => rf.fitView({ padding: 0.15, maxZoom: 1 }));
    return () => cancelAnimationFrame(f);
  }, [count, rf]);
  const marketer = can('marketer');
  const sel = c.nodes.find((n) => n.id === c.selected);
  const goal = c.offers.find((o) => o.id === c.settings.goal_offer_id) ?? c.offers[0];
  const status = c.journey?.status;
  const tr = (k: string) => t(k as 'journeyEditor.title');
  return (
    <>
      <PageTitle
        title={<Space>{c.name || t('journeyEditor.untitled')}{status && <Tag color={journeyStatusColor[status]} data-testid="journey-status">{t(`journeys.status.${status}` as 'journeys.status.draft')}</Tag>}</Space>}
        sub={c.journey ? `${t('journeys.version')} ${c.journey.version}${c.dirty ? ' · ' + t('journeyEditor.unsaved') : ''}` : t('journeyEditor.title')}
        extra={<Space>
          {id && <Link to={`/journeys/${id}`}>{t('journeyEditor.results')}</Link>}
          <Link to="/journeys">{t('journeys.back')}</Link>
        </Space>} />
      {c.error && <ErrorAlert error={c.error} style={{ marginBottom: 12 }} />}
      <Card bordered={false} styles={{ body: { padding: 12 } }}>
        <Space wrap style={{ marginBottom: 12 }}>
          {stepTypes.map((type) => (
            <Button key={type} size="small" icon={<PlusOutlined />} data-testid={`add-${type}`} onClick={() => c.addStep(type)}>
              {t(`journeys.nodeType.${type}` as 'journeys.nodeType.send')}
            </Button>
          ))}
          <Dropdown menu={{
            items: templateKeys.map((k) => ({ key: k, label: <span data-testid={`template-${k}`}>{t(`journeyEditor.tpl.${k}.name` as 'journeyEditor.tpl.welcome.name')}</span> })),
            onClick: (e) => c.load(template(e.key as (typeof templateKeys)[number], tr, goal), true),
          }}>
            <Button size="small" data-testid="templates">{t('journeyEditor.templates')}</Button>
          </Dropdown>
          <Popconfirm title={t('journeyEditor.clearConfirm')} onConfirm={() => c.load(blank(c.name || t('journeyEditor.untitled'), goal), true)}>
            <Button size="small">{t('journeyEditor.clear')}</Button>
          </Popconfirm>
          <Button type="primary" size="small" data-testid="save" disabled={!marketer} loading={c.busy} onClick={c.save}>{t('journeyEditor.save')}</Button>
          {status !== 'running'
            ? <Button size="small" data-testid="launch" disabled={!marketer} loading={c.busy} onClick={c.launch}>{t('journeyEditor.launch')}</Button>
            : <Button size="small" data-testid="pause" disabled={!marketer} loading={c.busy} onClick={c.pause}>{t('journeyEditor.pause')}</Button>}
          <Typography.Text type="secondary">{t('journeyEditor.howTo')}</Typography.Text>
        </Space>
        <div className="jc-layout">
          <div className="jc-canvas" data-testid="canvas">
            <ReactFlow nodes={c.nodes} edges={c.edges} nodeTypes={nodeTypes} onNodesChange={c.onNodesChange} onEdgesChange={c.onEdgesChange}
              onConnect={c.connect} onPaneClick={() => c.setSelected(null)} isValidConnection={(x) => x.source !== x.target}
              fitView deleteKeyCode={['Backspace', 'Delete']} proOptions={{ hideAttribution: true }}>
              <Background />
              <Controls showInteractive={false} />
              <MiniMap position="top-right" style={{ width: 140, height: 90 }} pannable zoomable nodeColor={(n) => (n.type === 'entry' ? '#2f54eb' : '#91caff')} />
            </ReactFlow>
          </div>
          <div className="jc-inspector" data-testid="inspector">
            {!sel && (
              <>
                <Typography.Title level={5}>{t('journeyEditor.settings')}</Typography.Title>
                <SettingsForm name={c.name} settings={c.settings} offers={c.offers} onName={c.setName} onChange={c.setSettings} />
                {c.error?.field?.startsWith('settings') && <Alert type="error" showIcon message={c.error.message} />}
              </>
            )}
            {sel?.type === 'entry' && (
              <>
                <Typography.Title level={5}><Tag color={typeColor.entry}>{t('journeyEditor.entryNode')}</Tag></Typography.Title>
                <EntryInspector entry={sel.data.entry} segments={c.segments} onChange={c.updateEntry} />
              </>
            )}
            {sel?.type === 'step' && (
              <>
                <Typography.Title level={5}>
                  <Space><Tag color={typeColor[sel.data.node.type]}>{t(`journeys.nodeType.${sel.data.node.type}` as 'journeys.nodeType.send')}</Tag>
                    <Button size="small" danger icon={<DeleteOutlined />} onClick={() => c.remove(sel.id)}>{t('journeyEditor.delete')}</Button></Space>
                </Typography.Title>
                <StepInspector key={sel.id} node={sel.data.node} ids={c.nodes.filter((n) => n.id !== ENTRY).map((n) => n.id)}
                  offers={c.offers} chans={c.chans} onChange={c.updateStep} onRename={(to) => c.rename(sel.id, to)} />
              </>
            )}
            {sel && c.errorAt === sel.id && <Alert type="error" showIcon message={c.error?.message} data-testid="inspector-error" />}
          </div>
        </div>
      </Card>
    </>
  );
}
