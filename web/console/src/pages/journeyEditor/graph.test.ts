import { describe, expect, it } from 'vitest';
import type { JourneyDefinition } from '../../api';
import { ENTRY, errorNode, fromDefinition, makeEdge, newStep, renameNode, tally, toDefinition } from './graph';
import { template, templateKeys } from './templates';

// The canvas model: a definition drawn and read back is the same
// definition; errors land on the node they name; counts read right.

const tr = (k: string) => k;
const offer = { id: 'off_1', name: 'rice', skus: ['R5'], categories: ['五常大米'] } as any;
const label = () => undefined;
// strip drops the positions a drawing adds.
const strip = (d: JourneyDefinition) => ({ ...d, nodes: d.nodes.map(({ x: _x, y: _y, ...n }) => n) });

describe('graph', () => {
  it('draws each template and reads the same definition back', () => {
    for (const k of templateKeys) {
      const def = template(k, tr, offer);
      const g = fromDefinition(def, label);
      expect(g.nodes).toHaveLength(def.nodes.length + 1);
      const back = toDefinition(def.name, def.settings, g.nodes, g.edges);
      expect(strip(back)).toEqual(def);
      // Laid out by depth: no two nodes share a place.
      const places = new Set(g.nodes.map((n) => `${n.position.x},${n.position.y}`));
      expect(places.size).toBe(g.nodes.length);
    }
  });

  it('keeps a demand-surge entry\'s filter through the canvas', () => {
    const def = template('replenishment', tr, offer);
    def.entry = { type: 'demand_surge', segment_id: 'seg_1', surge: { class: '高油酸花生油', province: '四川', city: '成都' }, next: def.entry.next };
    const g = fromDefinition(def, label);
    expect(strip(toDefinition(def.name, def.settings, g.nodes, g.edges)).entry).toEqual(def.entry);
  });

  it('reads ways out from edges: a missing edge is an empty target, a new edge a target', () => {
    const def = template('replenishment', tr, offer);
    const g = fromDefinition(def, label);
    const edges = g.edges.filter((e) => e.id !== 'buy:timed_out');
    let back = toDefinition(def.name, def.settings, g.nodes, edges);
    expect(back.nodes.find((n) => n.id === 'buy')!.wait_for!.timed_out).toBe('');
    back = toDefinition(def.name, def.settings, g.nodes, [...edges, makeEdge('buy', 'timed_out', 'out')]);
    expect(back.nodes.find((n) => n.id === 'buy')!.wait_for!.timed_out).toBe('out');
    expect(back.entry.next).toBe('remind');
  });

  it('keeps where nodes were placed', () => {
    const def = template('welcome', tr, offer);
    def.nodes[0].x = 500;
    def.nodes[0].y = 40;
    const g = fromDefinition(def, label);
    expect(g.nodes.find((n) => n.id === def.nodes[0].id)!.position).toEqual({ x: 500, y: 40 });
  });

  it('points errors at nodes', () => {
    const ids = ['remind', 'buy', '7'];
    expect(errorNode('nodes.buy.wait_for.timed_out', ids)).toBe('buy');
    expect(errorNode('nodes.remind.send.offer_id', ids)).toBe('remind');
    expect(errorNode('nodes.1.id', ids)).toBe('buy');
    expect(errorNode('nodes.7', ids)).toBe('7');
    expect(errorNode('entry.segment_id', ids)).toBe(ENTRY);
    expect(errorNode('settings.goal_offer_id', ids)).toBeNull();
    expect(errorNode('nodes.9.id', ids)).toBeNull();
    expect(errorNode(undefined, ids)).toBeNull();
  });

  it('renames a node with its edges', () => {
    const g = fromDefinition(template('replenishment', tr, offer), label);
    const r = renameNode(g.nodes, g.edges, 'buy', 'wait_rice');
    const back = toDefinition('x', template('replenishment', tr, offer).settings, r.nodes, r.edges);
    expect(back.nodes.find((n) => n.id === 'remind')!.next).toBe('wait_rice');
    expect(back.nodes.find((n) => n.id === 'wait_rice')!.wait_for!.happened).toBe('ordered');
  });

  it('numbers new steps past the ids in use', () => {
    expect(newStep('send', ['send_1', 'send_2']).id).toBe('send_3');
    expect(newStep('split', []).split!.arms.map((a) => a.percent)).toEqual([50, 50]);
  });

  it('tallies counts by node type', () => {
    const wf = newStep('wait_for', []);
    expect(tally(wf, { type: 'wait_for', here: 4, waiting: 4, outcomes: { waiting: 10, happened: 3, timed_out: 2, converted: 1 } }))
      .toEqual({ entered: 10, waiting: 4, sent: 0, branched: 5, converted: 1, exited: 0 });
    const send = newStep('send', []);
    expect(tally(send, { type: 'send', here: 0, waiting: 0, outcomes: { planned: 8, 'excluded:cap': 2, migrated: 1 }, sends: { sent: 5, delivered: 2, failed: 1 } }))
      .toEqual({ entered: 10, waiting: 0, sent: 7, branched: 0, converted: 0, exited: 0 });
    const split = newStep('split', []);
    expect(tally(split, { type: 'split', here: 0, waiting: 0, outcomes: { A: 6, B: 4 } }).branched).toBe(10);
    expect(tally(newStep('exit', []), { type: 'exit', here: 0, waiting: 0, outcomes: { exited: 3 } }).exited).toBe(3);
    expect(tally(send, undefined).entered).toBe(0);
  });
});
