import { Button, Divider, Empty, InputNumber, Input, Select, Space, Tag, Tooltip, Typography } from 'antd';
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { Segment } from '../api';
import { useTranslation } from 'react-i18next';
import { Cond, CondKind, defaults, Groups } from '../rule';

const kindGroups: ['behaviour' | 'orders' | 'traits', CondKind[]][] = [
  ['behaviour', ['video', 'search', 'chat']],
  ['orders', ['bought', 'lapsed', 'orders', 'spend']],
  ['traits', ['ltv', 'city_tier', 'city', 'tag', 'segment']],
];

// VisualBuilder edits AND-ed groups of OR-ed conditions.
export default function VisualBuilder({ groups, onChange, segments, disabled }: { groups: Groups; onChange: (g: Groups) => void; segments: Segment[]; disabled?: boolean }) {
  const { t } = useTranslation();
  // The condition kinds by group, named in the catalog (visualBuilder.kinds
  // and visualBuilder.groups).
  const kindOptions = kindGroups.map(([group, kinds]) => ({
    label: t(`visualBuilder.groups.${group}`),
    options: kinds.map((k) => ({ value: k, label: t(`visualBuilder.kinds.${k}`) })),
  }));
  const set = (gi: number, ci: number, c: Cond | null) => {
    const next = groups.map((g) => [...g]);
    if (c) next[gi][ci] = c;
    else next[gi].splice(ci, 1);
    onChange(next.filter((g) => g.length > 0));
  };
  const opSel = (c: Cond, gi: number, ci: number, ops: string[]) => (
    <Select size="middle" style={{ width: 72 }} value={c.op} disabled={disabled} onChange={(op) => set(gi, ci, { ...c, op })} options={ops.map((o) => ({ value: o, label: o === '==' ? '=' : o === '>=' ? '≥' : o === '<=' ? '≤' : o }))} data-testid="cond-op" />
  );
  const days = (c: Cond, gi: number, ci: number) => (
    <Space.Compact>
      <Button disabled>{t('visualBuilder.last')}</Button>
      <InputNumber min={1} max={3650} value={c.days} disabled={disabled} onChange={(v) => set(gi, ci, { ...c, days: v ?? undefined })} style={{ width: 80 }} data-testid="cond-days" />
      <Button disabled>{t('common.days')}</Button>
    </Space.Compact>
  );
  const text = (c: Cond, gi: number, ci: number, ph: string, w = 140) => (
    <Input value={c.text} placeholder={ph} disabled={disabled} style={{ width: w }} onChange={(e) => set(gi, ci, { ...c, text: e.target.value })} data-testid="cond-text" />
  );
  const n = (c: Cond, gi: number, ci: number, suffix?: string) => (
    <InputNumber value={c.n} min={0} disabled={disabled} onChange={(v) => set(gi, ci, { ...c, n: v ?? undefined })} style={{ width: 110 }} addonAfter={suffix} data-testid="cond-n" />
  );
  const fields = (c: Cond, gi: number, ci: number) => {
    switch (c.kind) {
      case 'video':
        return <>{t('visualBuilder.topic')} {text(c, gi, ci, '控糖')} {days(c, gi, ci)} {t('visualBuilder.times')} {opSel(c, gi, ci, ['>=', '>', '=='])} {n(c, gi, ci)}</>;
      case 'search':
        return <>{t('visualBuilder.keyword')} {text(c, gi, ci, '低GI大米')} {days(c, gi, ci)} {t('visualBuilder.times')} {opSel(c, gi, ci, ['>=', '>', '=='])} {n(c, gi, ci)}</>;
      case 'chat':
        return <>{t('visualBuilder.keyword')} {text(c, gi, ci, '血糖')} {days(c, gi, ci)}</>;
      case 'lapsed':
        return <>{text(c, gi, ci, '低GI大米')} {t('visualBuilder.notLast')} <InputNumber min={1} max={3650} value={c.days} disabled={disabled} onChange={(v) => set(gi, ci, { ...c, days: v ?? undefined })} style={{ width: 80 }} data-testid="cond-days" /> {t('visualBuilder.days')}</>;
      case 'bought':
        return <>{text(c, gi, ci, '低GI大米')} {days(c, gi, ci)} {t('visualBuilder.orderCount')} {opSel(c, gi, ci, ['>=', '>', '==', '<'])} {n(c, gi, ci)}</>;
      case 'orders':
        return <>{days(c, gi, ci)} {opSel(c, gi, ci, ['>=', '>', '==', '<', '<='])} {n(c, gi, ci, t('visualBuilder.ordersUnit'))}</>;
      case 'spend':
        return <>{days(c, gi, ci)} {opSel(c, gi, ci, ['>', '>=', '<', '<='])} {n(c, gi, ci, '¥')}</>;
      case 'ltv':
        return <>{opSel(c, gi, ci, ['>', '>=', '<', '<='])} {n(c, gi, ci, '¥')}</>;
      case 'city_tier':
        return <>{opSel(c, gi, ci, ['==', '<=', '>='])} <Select value={c.n} disabled={disabled} style={{ width: 120 }} onChange={(v) => set(gi, ci, { ...c, n: v })} data-testid="cond-tier"
          options={[1, 2, 3, 4].map((x) => ({ value: x, label: t(['一线', '新一线', '二线', '三线及以下'][x - 1], ['Tier 1', 'New tier 1', 'Tier 3', 'Tier 4'][x - 1]) }))} /></>;
      case 'city':
        return <Select mode="tags" value={c.cities} disabled={disabled} style={{ minWidth: 240 }} placeholder={t('visualBuilder.typeCityPressEnter')} onChange={(v) => set(gi, ci, { ...c, cities: v })}
          options={['北京', '上海', '广州', '深圳', '成都', '杭州', '武汉', '南京', '重庆', '西安'].map((x) => ({ value: x }))} />;
      case 'tag':
        return text(c, gi, ci, '控糖');
      case 'segment':
        return <Select value={c.text} disabled={disabled} style={{ width: 280 }} showSearch optionFilterProp="label" onChange={(v) => set(gi, ci, { ...c, text: v })}
          options={segments.map((s) => ({ value: s.id, label: s.name }))} placeholder={t('common.chooseSegment')} />;
    }
  };
  const condRow = (c: Cond, gi: number, ci: number) => (
    <div key={ci}>
      {ci > 0 && <Divider plain style={{ margin: '6px 0' }}><Tag color="orange">{t('visualBuilder.or')}</Tag></Divider>}
      <div className="cond-row" data-testid="cond-row">
        <Select value={c.kind} disabled={disabled} style={{ width: 200 }} options={kindOptions} virtual={false} listHeight={480} onChange={(k) => set(gi, ci, { ...defaults[k as CondKind] })} data-testid="cond-kind" />
        {fields(c, gi, ci)}
        <Tooltip title={t('visualBuilder.removeCondition')}>
          <Button type="text" danger icon={<DeleteOutlined />} disabled={disabled} onClick={() => set(gi, ci, null)} data-testid="cond-remove" />
        </Tooltip>
      </div>
    </div>
  );
  return (
    <div data-testid="visual-builder">
      {groups.length === 0 && <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('visualBuilder.noConditionsYetAdd')} />}
      {groups.map((g, gi) => (
        <div key={gi}>
          {gi > 0 && <div className="and-sep"><Tag color="blue">{t('visualBuilder.and')}</Tag></div>}
          <div className="cond-group" data-testid="cond-group">
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>{t('visualBuilder.groupAny', { group: gi + 1 })}</Typography.Text>
            {g.map((c, ci) => condRow(c, gi, ci))}
            <Button type="dashed" size="small" icon={<PlusOutlined />} style={{ marginTop: 8 }} disabled={disabled} data-testid="add-or"
              onClick={() => onChange(groups.map((x, i) => (i === gi ? [...x, { ...defaults.chat }] : x)))}>{t('visualBuilder.addCondition')}</Button>
          </div>
        </div>
      ))}
      <Button type="dashed" block icon={<PlusOutlined />} style={{ marginTop: 12 }} disabled={disabled} data-testid="add-group"
        onClick={() => onChange([...groups, [{ ...defaults.ltv }]])}>{t('visualBuilder.addGroup')}</Button>
    </div>
  );
}
