/// <reference types="node" />
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DemandAlert, DemandForecast, DemandPoint } from '../../api';
import { byCity, byProvince, mapOption, seriesOption } from './model';
import { cityCoords } from './cities';
import chinaGeo from './china.geo.json';

const t = (k: string) => k;

function alert(cls: string, province: string, city: string, ratio: number, id = `${cls}-${province}-${city}`): DemandAlert {
  return {
    id, from: '2026-06-01T04:00:00Z', to: '2026-06-02T04:00:00Z', series: { class: cls, province, city },
    observed: ratio * 10, expected: 10, dispersion: 1.2, ratio, z: 5, p: 1e-6, q: 1e-4, neighbours: [],
  };
}

// The generator's catalogue of cities (gen/catalog.go): {"成都", "四川", ...}.
function catalogue(): { city: string; province: string }[] {
  const src = readFileSync(join(__dirname, '..', '..', '..', '..', '..', 'gen', 'catalog.go'), 'utf8');
  return [...src.matchAll(/\{"([^"]+)", "([^"]+)", \d, "\w+"/g)].map((m) => ({ city: m[1], province: m[2] }));
}

type Ring = number[][];
const inRing = ([x, y]: number[], ring: Ring) => {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
};
// provinceAt names the province of the map whose outline holds pt.
const provinceAt = (pt: number[]) =>
  (chinaGeo as any).features
    .filter((f: any) => f.geometry.coordinates.some((poly: Ring[]) => inRing(pt, poly[0]) && !poly.slice(1).some((h) => inRing(pt, h))))
    .map((f: any) => f.properties.name);

describe('the China map', () => {
  const cities = catalogue();
  it('reads the catalogue', () => expect(cities.length).toBeGreaterThan(40));

  it('has every province the platform names, by the same name', () => {
    const names = new Set((chinaGeo as any).features.map((f: any) => f.properties.name));
    expect(names.size).toBe(34);
    for (const c of cities) expect(names.has(c.province), c.province).toBe(true);
  });

  it('places every catalogue city inside its own province', () => {
    for (const c of cities) {
      expect(cityCoords[c.city], c.city).toBeDefined();
      expect(provinceAt(cityCoords[c.city]), c.city).toEqual([c.province]);
    }
  });
});

describe('alert strength on the map', () => {
  const alerts = [alert('高油酸花生油', '四川', '成都', 4), alert('菜籽油', '四川', '绵阳', 2.5), alert('高油酸花生油', '四川', '成都', 1.6, 'again'),
    alert('五常大米', '北京', '北京', 1.8), alert('礼盒', '', '', 3), alert('礼盒', '广东', '不知名县', 2)];

  it('colours a province by its strongest alert, counting its alerts and classes; national alerts have no province', () => {
    const p = byProvince(alerts);
    expect(p.map((x) => x.province)).toEqual(['四川', '广东', '北京']);
    expect(p[0]).toEqual({ province: '四川', alerts: 3, strength: 4, classes: ['高油酸花生油', '菜籽油'] });
  });

  it('places a point per city with coordinates, its strongest alert chosen', () => {
    const c = byCity(alerts);
    expect(c.map((x) => x.city).sort()).toEqual(['北京', '成都', '绵阳']);
    const cd = c.find((x) => x.city === '成都')!;
    expect([cd.alerts, cd.strength, cd.id]).toEqual([2, 4, '高油酸花生油-四川-成都']);
    const opt = mapOption(alerts, t);
    expect(opt.visualMap.max).toBe(4);
    expect(opt.series[0].data.map((d: any) => [d.name, d.value])).toEqual([['四川', 4], ['广东', 2], ['北京', 1.8]]);
  });
});

describe('a series with its forecast', () => {
  const day = (d: number) => new Date(Date.UTC(2026, 5, d) - 8 * 3600_000).toISOString(); // Beijing midnight of June d
  const points: DemandPoint[] = [
    { at: day(1), search: 10, view: 2, chat: 1, units: 5, amount: 100 },
    { at: day(3), search: 40, view: 0, chat: 0, units: 6, amount: 120 },
  ];
  const forecast: DemandForecast = {
    series: { class: '高油酸花生油', province: '四川', city: '成都' },
    days: [4, 5].map((d) => ({ day: day(d), expected: 8, p80: [5, 11] as [number, number], p95: [3, 14] as [number, number] })),
  };
  const opt = seriesOption(points, forecast, alert('高油酸花生油', '四川', '成都', 4), t);
  const byName = (name: string): any[] => opt.series.filter((s: any) => s.name === name);

  it('fills days without data with zero and stops the units where the forecast starts', () => {
    expect(opt.xAxis.data).toEqual(['2026-06-01', '2026-06-03', '2026-06-04', '2026-06-05']);
    expect(byName('demand.signals')[0].data).toEqual([13, 40, 0, 0]);
    expect(byName('demand.units')[0].data).toEqual([5, 6, null, null]);
    expect(byName('demand.forecast')[0].data).toEqual([null, null, 8, 8]);
  });

  it('draws each interval as a band from its lower to its upper bound', () => {
    for (const [name, lo, hi] of [['demand.interval80', 5, 11], ['demand.interval95', 3, 14]] as const) {
      const [base, width] = byName(name);
      expect(base.stack).toBe(width.stack);
      expect(base.data.slice(2)).toEqual([lo, lo]);
      expect(width.data.slice(2).map((w: number, i: number) => w + base.data[2 + i])).toEqual([hi, hi]);
    }
  });

  it('shades the alert window by its Beijing days', () => {
    const area = byName('demand.signals')[0].markArea;
    expect(area.data).toEqual([[{ xAxis: '2026-06-01' }, { xAxis: '2026-06-02' }]]);
  });
});
