import { describe, expect, it } from 'vitest';
import { decodeDef, duration, encodeDef, funnelCSV, stepRows, toCSV } from './model';

describe('analytics model', () => {
  it('round-trips a definition with Chinese text through a link', () => {
    const def = { steps: [{ kind: 'event', name: 'video_play', filters: [{ field: 'topic', op: 'in', values: ['控糖'] }] }] };
    const p = encodeDef(def);
    expect(p).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeDef(p)).toEqual(def);
    expect(decodeDef('not base64!')).toBeUndefined();
    expect(decodeDef(null)).toBeUndefined();
  });

  it('derives drop-off and rates as the API counts', () => {
    const rows = stepRows(['看视频', '搜索', '下单'], { value: '', persons: [9, 6, 4], median_seconds: [0, 3600, 18000], time_to_convert: [] });
    expect(rows.map((r) => r.dropped)).toEqual([0, 3, 2]);
    expect(rows[2].fromPrevious).toBeCloseTo(4 / 6);
    expect(rows[2].fromFirst).toBeCloseTo(4 / 9);
    expect(stepRows(['a', 'b'], { value: '', persons: [0, 0], median_seconds: [0, 0], time_to_convert: [] })[1].fromPrevious).toBe(0);
  });

  it('writes CSV Excel reads', () => {
    expect(toCSV([['a', 'b,c'], ['say "hi"', 1]])).toBe('\ufeffa,"b,c"\r\n"say ""hi""",1\r\n');
    const csv = funnelCSV({ steps: ['a', 'b'], total: { value: '', persons: [2, 1], median_seconds: [0, 60], time_to_convert: [] }, breakdown: [], bucket_seconds: [], key: 'k', computed_at: '', cached: false, millis: 1 }, ['v', 'step', 'label', 'persons', 'dropped', 'prev', 'first', 'median']);
    expect(csv.split('\r\n')[2]).toBe(',2,b,1,1,0.5000,0.5000,60');
  });

  it('says durations briefly', () => {
    expect([duration(30), duration(600), duration(5400), duration(86400 * 2.5)]).toEqual(['30s', '10m', '1.5h', '2.5d']);
  });
});
