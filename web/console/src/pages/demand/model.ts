// The demand page's pure part: alert strength by province and city, and
// the ECharts options of the map and of a series with its forecast.
import type { DemandAlert, DemandForecast, DemandPoint } from '../../api';
import { cityCoords } from './cities';

// Label gives a chart's words (i18next's t in the page).
export type Label = (key: string, vars?: Record<string, unknown>) => string;

// strength is an alert's strength on the map: observed over expected.
export const strength = (a: DemandAlert) => a.ratio;

export type ProvinceStrength = { province: string; alerts: number; strength: number; classes: string[] };
export type CityPoint = { city: string; province: string; coord: [number, number]; alerts: number; strength: number; id: string };

// byProvince sums alerts up to their province: the number, the strongest
// ratio and the classes; a national alert (no province) is left out.
export function byProvince(alerts: DemandAlert[]): ProvinceStrength[] {
  const m = new Map<string, ProvinceStrength>();
  for (const a of alerts) {
    const p = a.series.province;
    if (!p) continue;
    const cur = m.get(p) ?? { province: p, alerts: 0, strength: 0, classes: [] };
    cur.alerts++;
    cur.strength = Math.max(cur.strength, strength(a));
    if (!cur.classes.includes(a.series.class)) cur.classes.push(a.series.class);
    m.set(p, cur);
  }
  return [...m.values()].sort((x, y) => y.strength - x.strength);
}

// byCity places city alerts at their city (cityCoords); cities without
// coordinates are left off the map. id is the strongest alert's.
export function byCity(alerts: DemandAlert[]): CityPoint[] {
  const m = new Map<string, CityPoint>();
  for (const a of alerts) {
    const c = a.series.city;
    const coord = c ? cityCoords[c] : undefined;
    if (!coord) continue;
    const cur = m.get(c) ?? { city: c, province: a.series.province, coord, alerts: 0, strength: 0, id: a.id };
    cur.alerts++;
    if (strength(a) > cur.strength) {
      cur.strength = strength(a);
      cur.id = a.id;
    }
    m.set(c, cur);
  }
  return [...m.values()];
}

// mapOption draws the provinces coloured by their strongest alert and a
// pulsing point per city with alerts, sized by its strongest.
export function mapOption(alerts: DemandAlert[], t: Label) {
  const provinces = byProvince(alerts);
  const cities = byCity(alerts);
  const top = Math.max(4, ...provinces.map((p) => p.strength));
  return {
    tooltip: {
      trigger: 'item',
      formatter: (p: any) => {
        const d = p.data;
        if (!d || !d.alerts) return `${p.name}: ${t('demand.noAlerts')}`;
        return `${p.name}<br/>${t('demand.alertsCount', { count: d.alerts })}<br/>${t('demand.strongest', { ratio: d.strength.toFixed(1) })}` +
          (d.classes ? `<br/>${d.classes.join('、')}` : '');
      },
    },
    visualMap: {
      type: 'continuous', seriesIndex: 0, min: 1, max: Math.ceil(top), left: 'left', bottom: 8, calculable: true,
      text: [t('demand.strong'), t('demand.weak')], inRange: { color: ['#fff1f0', '#ff7875', '#cf1322', '#820014'] },
    },
    geo: { map: 'china', roam: true, zoom: 1.15, top: 20, itemStyle: { areaColor: '#fafafa', borderColor: '#bfbfbf' }, emphasis: { itemStyle: { areaColor: '#ffd591' }, label: { show: false } } },
    series: [
      { type: 'map', name: t('demand.provinces'), geoIndex: 0, data: provinces.map((p) => ({ name: p.province, value: p.strength, ...p })) },
      {
        type: 'effectScatter', name: t('demand.cities'), coordinateSystem: 'geo', rippleEffect: { scale: 3 }, zlevel: 1,
        symbolSize: (v: number[]) => 6 + Math.min(v[2], 8) * 1.5, itemStyle: { color: '#a8071a' },
        data: cities.map((c) => ({ name: c.city, value: [...c.coord, c.strength], alerts: c.alerts, strength: c.strength, alertId: c.id })),
      },
    ],
  };
}

type ForecastDay = DemandForecast['days'][number];

// beijingDay names the Beijing day of an instant (YYYY-MM-DD).
export const beijingDay = (at: string) => new Date(Date.parse(at) + 8 * 3600_000).toISOString().slice(0, 10);

// seriesOption draws a series' daily demand signals (searches, views and
// chats) and units ordered, the forecast of units with its 80% and 95%
// intervals as bands, and the alert's window shaded. Days without data
// count zero.
export function seriesOption(points: DemandPoint[], forecast: DemandForecast | undefined, alert: DemandAlert | undefined, t: Label) {
  const fdays = forecast?.days ?? [];
  const days = [...new Set([...points.map((p) => beijingDay(p.at)), ...fdays.map((d) => beijingDay(d.day))])].sort();
  const fill = (byDay: Map<string, number>) => days.map((d) => byDay.get(d) ?? 0);
  const signals = fill(new Map(points.map((p) => [beijingDay(p.at), p.search + p.view + p.chat])));
  const firstForecast = fdays.length ? beijingDay(fdays[0].day) : undefined;
  const unitsByDay = fill(new Map(points.map((p) => [beijingDay(p.at), p.units])));
  const units = days.map((d, i) => (firstForecast && d >= firstForecast ? null : unitsByDay[i]));
  const fc = new Map(fdays.map((d) => [beijingDay(d.day), d]));
  const col = (f: (d: ForecastDay) => number) => days.map((d) => (fc.has(d) ? f(fc.get(d)!) : null));
  const band = (name: string, stack: string, lo: (d: ForecastDay) => number, hi: (d: ForecastDay) => number, color: string) => [
    { name, type: 'line', yAxisIndex: 1, stack, data: col(lo), lineStyle: { opacity: 0 }, symbol: 'none', tooltip: { show: false } },
    { name, type: 'line', yAxisIndex: 1, stack, data: col((d) => hi(d) - lo(d)), lineStyle: { opacity: 0 }, symbol: 'none', areaStyle: { color }, tooltip: { show: false } },
  ];
  const window = alert ? [[{ xAxis: beijingDay(alert.from) }, { xAxis: beijingDay(new Date(Date.parse(alert.to) - 1).toISOString()) }]] : [];
  return {
    tooltip: { trigger: 'axis' },
    legend: { top: 0, data: [t('demand.signals'), t('demand.units'), t('demand.forecast'), t('demand.interval80'), t('demand.interval95')] },
    grid: { left: 48, right: 48, top: 36, bottom: 28 },
    xAxis: { type: 'category', data: days, boundaryGap: false },
    yAxis: [{ type: 'value', name: t('demand.signals') }, { type: 'value', name: t('demand.units') }],
    series: [
      ...band(t('demand.interval95'), 'p95', (d) => d.p95[0], (d) => d.p95[1], 'rgba(22,119,255,0.12)'),
      ...band(t('demand.interval80'), 'p80', (d) => d.p80[0], (d) => d.p80[1], 'rgba(22,119,255,0.22)'),
      {
        name: t('demand.signals'), type: 'line', yAxisIndex: 0, data: signals, symbol: 'none', color: '#fa541c',
        markArea: window.length ? { itemStyle: { color: 'rgba(207,19,34,0.08)' }, label: { show: true, position: 'insideTop', formatter: t('demand.alertWindow') }, data: window } : undefined,
      },
      { name: t('demand.units'), type: 'line', yAxisIndex: 1, data: units, symbol: 'none', color: '#52c41a' },
      { name: t('demand.forecast'), type: 'line', yAxisIndex: 1, data: col((d) => d.expected), symbol: 'none', color: '#1677ff', lineStyle: { type: 'dashed' } },
    ],
  };
}
