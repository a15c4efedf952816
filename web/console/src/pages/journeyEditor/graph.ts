// The canvas model of a journey: a definition (what the API stores) as
// React Flow nodes and edges and back, where an API error's field points
// on the canvas, and the per-node counts the canvas shows. No React here:
// graph.test.ts checks it.
import type { Edge, Node } from '@xyflow/react';
import type { JourneyDefinition, JourneyEntry, JourneyNode, JourneyNodeCounts, JourneySettings } from '../../api';

// ENTRY is the canvas id of the entry (not a node of the definition).
export const ENTRY = '__entry';

// Tally is what a node shows of its counts.
export type Tally = { entered: number; waiting: number; sent: number; branched: number; converted: number; exited: number };

export type EntryData = { entry: JourneyEntry; error?: string; tally?: Tally };
export type StepData = { node: JourneyNode; error?: string; tally?: Tally };
export type EntryNode = Node<EntryData, 'entry'>;
export type StepNode = Node<StepData, 'step'>;
export type CanvasNode = EntryNode | StepNode;

export const stepTypes = ['send', 'wait', 'wait_for', 'branch', 'split', 'exit'] as const;
export type StepType = (typeof stepTypes)[number];

// handles are a node's ways out, as source handle ids: next; happened and
// timed_out; yes and no; arm0, arm1, … (a split's arms in order); none.
export function handles(n: JourneyNode): string[] {
  switch (n.type) {
    case 'wait_for': return ['happened', 'timed_out'];
    case 'branch': return ['yes', 'no'];
    case 'split': return (n.split?.arms ?? []).map((_, i) => 'arm' + i);
    case 'exit': return [];
    default: return ['next'];
  }
}

// target is where a node's handle leads in the definition ('' for none).
function target(n: JourneyNode, h: string): string {
  switch (h) {
    case 'next': return n.next ?? '';
    case 'happened': return n.wait_for?.happened ?? '';
    case 'timed_out': return n.wait_for?.timed_out ?? '';
    case 'yes': return n.branch?.yes ?? '';
    case 'no': return n.branch?.no ?? '';
    default: return n.split?.arms[Number(h.slice(3))]?.next ?? '';
  }
}

// withTargets returns n with each way out set by to(handle).
function withTargets(n: JourneyNode, to: (h: string) => string): JourneyNode {
  const out: JourneyNode = { ...n };
  switch (n.type) {
    case 'wait_for': out.wait_for = { ...n.wait_for!, happened: to('happened'), timed_out: to('timed_out') }; break;
    case 'branch': out.branch = { ...n.branch!, yes: to('yes'), no: to('no') }; break;
    case 'split': out.split = { arms: (n.split?.arms ?? []).map((a, i) => ({ ...a, next: to('arm' + i) })) }; break;
    case 'exit': delete out.next; break;
    default: out.next = to('next');
  }
  return out;
}

// edgeId names the edge leaving a node's handle: one edge per handle.
export const edgeId = (source: string, handle: string) => `${source}:${handle}`;

// makeEdge is the canvas edge from a node's handle, labelled by label.
export function makeEdge(source: string, handle: string, to: string, label?: string): Edge {
  return { id: edgeId(source, handle), source, sourceHandle: handle, target: to, targetHandle: 'in', label };
}

const colGap = 300;
const rowGap = 170;

// layout places nodes without a position (x and y both 0) in rows by their
// distance from the entry, left to right in the order they are reached.
function layout(def: JourneyDefinition): Map<string, { x: number; y: number }> {
  const pos = new Map<string, { x: number; y: number }>();
  const placed = def.nodes.some((n) => n.x || n.y);
  const byId = new Map(def.nodes.map((n) => [n.id, n]));
  const depth = new Map<string, number>();
  const queue = def.entry.next ? [def.entry.next] : [];
  if (def.entry.next) depth.set(def.entry.next, 1);
  while (queue.length) {
    const id = queue.shift()!;
    const n = byId.get(id);
    if (!n) continue;
    for (const h of handles(n)) {
      const to = target(n, h);
      if (to && !depth.has(to)) {
        depth.set(to, depth.get(id)! + 1);
        queue.push(to);
      }
    }
  }
  const perRow = new Map<number, number>();
  for (const n of def.nodes) {
    if (placed) {
      pos.set(n.id, { x: n.x ?? 0, y: n.y ?? 0 });
      continue;
    }
    const d = depth.get(n.id) ?? 1;
    const col = perRow.get(d) ?? 0;
    perRow.set(d, col + 1);
    pos.set(n.id, { x: col * colGap, y: d * rowGap });
  }
  const first = pos.get(def.entry.next);
  pos.set(ENTRY, first ? { x: first.x, y: first.y - rowGap } : { x: 0, y: 0 });
  return pos;
}

// fromDefinition draws a definition: the entry, its steps where they were
// placed (or laid out by depth), and an edge for every way out that leads
// somewhere. label names a handle's edge.
export function fromDefinition(def: JourneyDefinition, label: (n: JourneyNode, h: string) => string | undefined): { nodes: CanvasNode[]; edges: Edge[] } {
  const pos = layout(def);
  const nodes: CanvasNode[] = [{ id: ENTRY, type: 'entry', position: pos.get(ENTRY)!, data: { entry: def.entry }, deletable: false }];
  const edges: Edge[] = [];
  if (def.entry.next) edges.push(makeEdge(ENTRY, 'next', def.entry.next));
  for (const n of def.nodes) {
    nodes.push({ id: n.id, type: 'step', position: pos.get(n.id)!, data: { node: n } });
    for (const h of handles(n)) {
      const to = target(n, h);
      if (to) edges.push(makeEdge(n.id, h, to, label(n, h)));
    }
  }
  return { nodes, edges };
}

// toDefinition is the definition the canvas draws: each node's ways out
// are the edges leaving its handles (none: ''), its place its position.
export function toDefinition(name: string, settings: JourneySettings, nodes: CanvasNode[], edges: Edge[]): JourneyDefinition {
  const out = new Map(edges.map((e) => [edgeId(e.source, e.sourceHandle ?? 'next'), e.target]));
  const to = (id: string) => (h: string) => out.get(edgeId(id, h)) ?? '';
  let entry: JourneyEntry = { type: 'segment', next: '' };
  const steps: JourneyNode[] = [];
  for (const n of nodes) {
    if (n.type === 'entry') entry = { ...n.data.entry, next: to(ENTRY)('next') };
    else steps.push({ ...withTargets(n.data.node, to(n.id)), x: Math.round(n.position.x), y: Math.round(n.position.y) });
  }
  return { name, entry, nodes: steps, settings };
}

// errorNode is the canvas node an API error's field points at: the entry
// for entry.*, the node for nodes.<id>.* (or nodes.<index>.id), else null.
export function errorNode(field: string | undefined, ids: string[]): string | null {
  if (!field) return null;
  if (field === 'entry' || field.startsWith('entry.')) return ENTRY;
  const m = /^nodes\.([A-Za-z0-9_-]+)/.exec(field);
  if (!m) return null;
  if (ids.includes(m[1])) return m[1];
  const i = Number(m[1]);
  return Number.isInteger(i) && i >= 0 && i < ids.length ? ids[i] : null;
}

const sum = (o: Record<string, number> | undefined, keys: string[]) => keys.reduce((s, k) => s + (o?.[k] ?? 0), 0);

// tally reads a node's counts: entered (runs that reached it: for a wait,
// its "waiting", "no_date" and "past" steps; else every step there but
// moves between versions), waiting now, sent (sent or delivered), branched
// (down one of its ways: happened or timed out, yes or no, an arm),
// converted and exited there (an exit node, left the segment, stopped).
export function tally(n: JourneyNode, c: JourneyNodeCounts | undefined): Tally {
  const o = c?.outcomes ?? {};
  const waits = n.type === 'wait' || n.type === 'wait_for';
  const entered = waits ? sum(o, ['waiting', 'no_date', 'past'])
    : Object.entries(o).reduce((s, [k, v]) => (k === 'migrated' ? s : s + v), 0);
  const ways = n.type === 'wait_for' ? ['happened', 'timed_out'] : n.type === 'branch' ? ['yes', 'no']
    : n.type === 'split' ? (n.split?.arms ?? []).map((a) => a.name) : [];
  return {
    entered,
    waiting: c?.waiting ?? 0,
    sent: sum(c?.sends, ['sent', 'delivered']),
    branched: sum(o, ways),
    converted: o.converted ?? 0,
    exited: sum(o, ['exited', 'left_segment', 'stopped']),
  };
}

// newStep is a node of the type with the defaults an inspector starts from
// and the first id of the form <type>_<n> not in ids.
export function newStep(type: StepType, ids: string[]): JourneyNode {
  let i = 1;
  while (ids.includes(`${type}_${i}`)) i++;
  const id = `${type}_${i}`;
  switch (type) {
    case 'send': return { id, type, next: '', send: { channel: 'wecom', template: '', offer_id: '' } };
    case 'wait': return { id, type, next: '', wait: { duration: '1d' } };
    case 'wait_for': return { id, type, wait_for: { order: {}, timeout: '3d', happened: '', timed_out: '' } };
    case 'branch': return { id, type, branch: { condition: '', yes: '', no: '' } };
    case 'split': return { id, type, split: { arms: [{ name: 'A', percent: 50, next: '' }, { name: 'B', percent: 50, next: '' }] } };
    default: return { id, type: 'exit' };
  }
}

// renameNode gives a step a new id, moving the edges at it.
export function renameNode(nodes: CanvasNode[], edges: Edge[], from: string, to: string): { nodes: CanvasNode[]; edges: Edge[] } {
  return {
    nodes: nodes.map((n) => (n.id === from && n.type === 'step' ? { ...n, id: to, data: { ...n.data, node: { ...n.data.node, id: to } } } : n)),
    edges: edges.map((e) => {
      const source = e.source === from ? to : e.source;
      const tgt = e.target === from ? to : e.target;
      return { ...e, id: edgeId(source, e.sourceHandle ?? 'next'), source, target: tgt };
    }),
  };
}
