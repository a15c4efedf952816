import { useCallback, useEffect, useMemo, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { addEdge, applyEdgeChanges, applyNodeChanges, Connection, Edge, EdgeChange, NodeChange } from '@xyflow/react';
import { api, ApiError, ChannelSettings, get, Journey, JourneyDefinition, JourneyEntry, JourneyNode, JourneyResults, JourneySettings, Offer, post, Segment } from '../../api';
import { CanvasNode, edgeId, ENTRY, errorNode, fromDefinition, handles, makeEdge, newStep, renameNode, StepType, tally, toDefinition } from './graph';
import { defaultSettings } from './templates';

// refreshEvery is how often the canvas asks for its live counts.
export const refreshEvery = 3000;

type Label = (n: JourneyNode, h: string) => string | undefined;

// useJourneyCanvas holds a journey on the canvas: its nodes and edges (the
// definition's source of truth while editing), name and settings, the
// offers, segments and channels the inspectors choose from, the last API
// error and the node it points at, and the live counts, asked for every
// refreshEvery while the page is open. Save writes a new version (or
// creates the journey), launch saves what changed and launches.
export function useJourneyCanvas(id: string | undefined, label: Label) {
  const navigate = useNavigate();
  const [journey, setJourney] = useState<Journey | null>(null);
  const [name, setNameRaw] = useState('');
  const [settings, setSettingsRaw] = useState<JourneySettings>(defaultSettings());
  const [nodes, setNodes] = useState<CanvasNode[]>(fromDefinition({ name: '', entry: { type: 'segment', next: '' }, nodes: [], settings }, label).nodes);
  const [edges, setEdges] = useState<Edge[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [dirty, setDirty] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [results, setResults] = useState<JourneyResults | null>(null);
  const [offers, setOffers] = useState<Offer[]>([]);
  const [segments, setSegments] = useState<Segment[]>([]);
  const [chans, setChans] = useState<ChannelSettings | null>(null);

  const load = useCallback((def: JourneyDefinition, changed: boolean) => {
    const g = fromDefinition(def, label);
    setNameRaw(def.name);
    setSettingsRaw(def.settings);
    setNodes(g.nodes);
    setEdges(g.edges);
    setSelected(null);
    setError(null);
    setDirty(changed);
  }, [label]);

  useEffect(() => {
    get<{ items: Offer[] }>('/offers').then((r) => setOffers(r.items)).catch(setError);
    get<{ items: Segment[] }>('/segments').then((r) => setSegments(r.items)).catch(setError);
    get<ChannelSettings>('/settings/channels').then(setChans).catch(() => {});
  }, []);
  useEffect(() => {
    if (!id) return;
    get<Journey>('/journeys/' + id).then((j) => {
      setJourney(j);
      load(j, false);
    }).catch(setError);
    const refresh = () => get<JourneyResults>(`/journeys/${id}/results`).then(setResults).catch(() => {});
    refresh();
    const timer = setInterval(refresh, refreshEvery);
    return () => clearInterval(timer);
    // load changes with the language (edge labels); a reload would drop edits.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id]);

  const change = () => setDirty(true);
  const setName = (v: string) => { setNameRaw(v); change(); };
  const setSettings = (s: JourneySettings) => { setSettingsRaw(s); change(); };
  const onNodesChange = useCallback((cs: NodeChange<CanvasNode>[]) => {
    setNodes((ns) => applyNodeChanges(cs, ns));
    if (cs.some((c) => c.type === 'remove' || (c.type === 'position' && !c.dragging))) setDirty(true);
    for (const c of cs) if (c.type === 'select') setSelected((s) => (c.selected ? c.id : s === c.id ? null : s));
  }, []);
  const onEdgesChange = useCallback((cs: EdgeChange[]) => {
    setEdges((es) => applyEdgeChanges(cs, es));
    if (cs.some((c) => c.type === 'remove')) setDirty(true);
  }, []);
  // connect draws an edge: a handle has one way out, so a new edge from a
  // handle replaces the old one.
  const connect = useCallback((c: Connection) => {
    if (!c.sourceHandle || c.source === c.target) return;
    const eid = edgeId(c.source, c.sourceHandle);
    setEdges((es) => addEdge(makeEdge(c.source, c.sourceHandle!, c.target), es.filter((e) => e.id !== eid)));
    setDirty(true);
  }, []);

  // addStep adds a node of the type below the selected node, joined to
  // its first free way out, and selects it.
  const addStep = (type: StepType) => {
    const ids = nodes.filter((n) => n.type === 'step').map((n) => n.id);
    const step = newStep(type, ids);
    const parent = nodes.find((n) => n.id === selected);
    const outs = parent ? (parent.type === 'entry' ? ['next'] : handles(parent.data.node)) : [];
    const i = outs.findIndex((h) => !edges.some((e) => e.id === edgeId(parent!.id, h)));
    const position = parent
      ? { x: parent.position.x + (i < 0 ? 0 : (i - (outs.length - 1) / 2) * 300), y: parent.position.y + 170 }
      : { x: 0, y: Math.max(...nodes.map((n) => n.position.y)) + 170 };
    setNodes((ns) => [...ns.map((n) => ({ ...n, selected: false })), { id: step.id, type: 'step', position, data: { node: step }, selected: true }]);
    if (parent && i >= 0) setEdges((es) => [...es, makeEdge(parent.id, outs[i], step.id)]);
    setSelected(step.id);
    change();
  };
  const updateStep = (n: JourneyNode) => {
    setNodes((ns) => ns.map((x) => (x.id === n.id && x.type === 'step' ? { ...x, data: { ...x.data, node: n } } : x)));
    // A split that lost arms loses their edges.
    if (n.type === 'split') setEdges((es) => es.filter((e) => e.source !== n.id || handles(n).includes(e.sourceHandle ?? '')));
    change();
  };
  const updateEntry = (entry: JourneyEntry) => {
    setNodes((ns) => ns.map((x) => (x.type === 'entry' ? { ...x, data: { ...x.data, entry } } : x)));
    change();
  };
  const rename = (from: string, to: string) => {
    const g = renameNode(nodes, edges, from, to);
    setNodes(g.nodes);
    setEdges(g.edges);
    setSelected(to);
    change();
  };
  const remove = (nid: string) => {
    setNodes((ns) => ns.filter((n) => n.id !== nid));
    setEdges((es) => es.filter((e) => e.source !== nid && e.target !== nid));
    setSelected(null);
    change();
  };

  const save = async (): Promise<Journey | null> => {
    setBusy(true);
    try {
      const def = toDefinition(name, settings, nodes, edges);
      const j = id ? await api<Journey>('PUT', '/journeys/' + id, def) : await post<Journey>('/journeys', def);
      setJourney(j);
      setError(null);
      setDirty(false);
      if (!id) navigate(`/journeys/${j.id}/edit`, { replace: true });
      return j;
    } catch (e) {
      setError(e as ApiError);
      return null;
    } finally {
      setBusy(false);
    }
  };
  const act = async (what: 'launch' | 'pause') => {
    const j = dirty || !journey ? await save() : journey;
    if (!j) return;
    setBusy(true);
    try {
      setJourney(await post<Journey>(`/journeys/${j.id}/${what}`));
      setError(null);
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };

  // The nodes as drawn: each with the error pointing at it and its counts.
  const errorAt = errorNode(error?.field, nodes.filter((n) => n.type === 'step').map((n) => n.id));
  const drawn = useMemo(() => nodes.map((n): CanvasNode => {
    const err = errorAt === n.id ? error?.message : undefined;
    if (n.type === 'entry') {
      const t = results ? { entered: results.entered, waiting: 0, sent: 0, branched: 0, converted: results.exited.converted ?? 0, exited: Object.values(results.exited).reduce((a, b) => a + b, 0) } : undefined;
      return { ...n, data: { ...n.data, error: err, tally: t } };
    }
    return { ...n, data: { ...n.data, error: err, tally: results ? tally(n.data.node, results.nodes[n.id]) : undefined } };
  }), [nodes, errorAt, error, results]);
  const drawnEdges = useMemo(() => edges.map((e) => {
    const src = nodes.find((n) => n.id === e.source);
    return src?.type === 'step' ? { ...e, label: label(src.data.node, e.sourceHandle ?? 'next') } : e;
  }), [edges, nodes, label]);

  return {
    journey, name, setName, settings, setSettings, nodes: drawn, edges: drawnEdges, selected, setSelected, dirty, busy, error, errorAt, results,
    offers, segments, chans, load, onNodesChange, onEdgesChange, connect, addStep, updateStep, updateEntry, rename, remove, save,
    launch: () => act('launch'), pause: () => act('pause'), entryId: ENTRY,
  };
}
