import { Button, Divider, Empty, InputNumber, Input, Select, Space, Tag, Tooltip, Typography } from 'antd';
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { Segment } from '../api';
import { useT } from '../i18n';
import { Cond, CondKind, defaults, Groups } from '../rule';

// VisualBuilder edits AND-ed groups of OR-ed conditions.
export default function VisualBuilder({ groups, onChange, segments, disabled }: { groups: Groups; onChange: (g: Groups) => void; segments: Segment[]; disabled?: boolean }) {
  const t = useT();
  const kinds: { value: CondKind; label: string; group: string }[] = [
    { value: 'video', label: t('完播视频（抖音）', 'Completed videos (Douyin)'), group: t('行为', 'Behaviour') },
    { value: 'search', label: t('搜索关键词', 'Searched keyword'), group: t('行为', 'Behaviour') },
    { value: 'chat', label: t('企微聊天提到', 'Mentioned in WeCom chat'), group: t('行为', 'Behaviour') },
    { value: 'bought', label: t('购买过商品/品类', 'Bought item or category'), group: t('交易', 'Orders') },
    { value: 'lapsed', label: t('买过但近期未复购', 'Bought before, not lately'), group: t('交易', 'Orders') },
    { value: 'orders', label: t('下单次数', 'Number of orders'), group: t('交易', 'Orders') },
    { value: 'spend', label: t('消费金额', 'Amount spent'), group: t('交易', 'Orders') },
    { value: 'ltv', label: t('累计消费（LTV）', 'Lifetime value'), group: t('属性', 'Traits') },
    { value: 'city_tier', label: t('城市等级', 'City tier'), group: t('属性', 'Traits') },
    { value: 'city', label: t('城市', 'City'), group: t('属性', 'Traits') },
    { value: 'tag', label: t('标签', 'Tag'), group: t('属性', 'Traits') },
    { value: 'segment', label: t('属于人群', 'In segment'), group: t('属性', 'Traits') },
  ];
  const kindOptions = [...new Set(kinds.map((k) => k.group))].map((g) => ({ label: g, options: kinds.filter((k) => k.group === g).map((k) => ({ value: k.value, label: k.label })) }));
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
      <Button disabled>{t('近', 'last')}</Button>
      <InputNumber min={1} max={3650} value={c.days} disabled={disabled} onChange={(v) => set(gi, ci, { ...c, days: v ?? undefined })} style={{ width: 80 }} data-testid="cond-days" />
      <Button disabled>{t('天', 'days')}</Button>
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
        return <>{t('主题', 'topic')} {text(c, gi, ci, '控糖')} {days(c, gi, ci)} {t('次数', 'times')} {opSel(c, gi, ci, ['>=', '>', '=='])} {n(c, gi, ci)}</>;
      case 'search':
        return <>{t('关键词', 'keyword')} {text(c, gi, ci, '低GI大米')} {days(c, gi, ci)} {t('次数', 'times')} {opSel(c, gi, ci, ['>=', '>', '=='])} {n(c, gi, ci)}</>;
      case 'chat':
        return <>{t('关键词', 'keyword')} {text(c, gi, ci, '血糖')} {days(c, gi, ci)}</>;
      case 'lapsed':
        return <>{text(c, gi, ci, '低GI大米')} {t('近', 'not in the last')} <InputNumber min={1} max={3650} value={c.days} disabled={disabled} onChange={(v) => set(gi, ci, { ...c, days: v ?? undefined })} style={{ width: 80 }} data-testid="cond-days" /> {t('天未复购', 'days')}</>;
      case 'bought':
        return <>{text(c, gi, ci, '低GI大米')} {days(c, gi, ci)} {t('订单数', 'orders')} {opSel(c, gi, ci, ['>=', '>', '==', '<'])} {n(c, gi, ci)}</>;
      case 'orders':
        return <>{days(c, gi, ci)} {opSel(c, gi, ci, ['>=', '>', '==', '<', '<='])} {n(c, gi, ci, t('单', 'orders'))}</>;
      case 'spend':
        return <>{days(c, gi, ci)} {opSel(c, gi, ci, ['>', '>=', '<', '<='])} {n(c, gi, ci, '¥')}</>;
      case 'ltv':
        return <>{opSel(c, gi, ci, ['>', '>=', '<', '<='])} {n(c, gi, ci, '¥')}</>;
      case 'city_tier':
        return <>{opSel(c, gi, ci, ['==', '<=', '>='])} <Select value={c.n} disabled={disabled} style={{ width: 120 }} onChange={(v) => set(gi, ci, { ...c, n: v })} data-testid="cond-tier"
          options={[1, 2, 3, 4].map((x) => ({ value: x, label: t(['一线', '新一线', '二线', '三线及以下'][x - 1], ['Tier 1', 'New tier 1', 'Tier 3', 'Tier 4'][x - 1]) }))} /></>;
      case 'city':
        return <Select mode="tags" value={c.cities} disabled={disabled} style={{ minWidth: 240 }} placeholder={t('输入城市后回车', 'Type a city, press Enter')} onChange={(v) => set(gi, ci, { ...c, cities: v })}
          options={['北京', '上海', '广州', '深圳', '成都', '杭州', '武汉', '南京', '重庆', '西安'].map((x) => ({ value: x }))} />;
      case 'tag':
        return text(c, gi, ci, '控糖');
      case 'segment':
        return <Select value={c.text} disabled={disabled} style={{ width: 280 }} showSearch optionFilterProp="label" onChange={(v) => set(gi, ci, { ...c, text: v })}
          options={segments.map((s) => ({ value: s.id, label: s.name }))} placeholder={t('选择人群', 'Choose a segment')} />;
    }
  };
  const condRow = (c: Cond, gi: number, ci: number) => (
    <div key={ci}>
      {ci > 0 && <Divider plain style={{ margin: '6px 0' }}><Tag color="orange">{t('或', 'OR')}</Tag></Divider>}
      <div className="cond-row" data-testid="cond-row">
        <Select value={c.kind} disabled={disabled} style={{ width: 200 }} options={kindOptions} virtual={false} listHeight={480} onChange={(k) => set(gi, ci, { ...defaults[k as CondKind] })} data-testid="cond-kind" />
        {fields(c, gi, ci)}
        <Tooltip title={t('删除条件', 'Remove condition')}>
          <Button type="text" danger icon={<DeleteOutlined />} disabled={disabled} onClick={() => set(gi, ci, null)} data-testid="cond-remove" />
        </Tooltip>
      </div>
    </div>
  );
  return (
    <div data-testid="visual-builder">
      {groups.length === 0 && <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('还没有条件：添加一个条件组开始圈选', 'No conditions yet: add a group to start')} />}
      {groups.map((g, gi) => (
        <div key={gi}>
          {gi > 0 && <div className="and-sep"><Tag color="blue">{t('并且', 'AND')}</Tag></div>}
          <div className="cond-group" data-testid="cond-group">
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>{t(`条件组 ${gi + 1} · 满足任一条件`, `Group ${gi + 1} · any of`)}</Typography.Text>
            {g.map((c, ci) => condRow(c, gi, ci))}
            <Button type="dashed" size="small" icon={<PlusOutlined />} style={{ marginTop: 8 }} disabled={disabled} data-testid="add-or"
              onClick={() => onChange(groups.map((x, i) => (i === gi ? [...x, { ...defaults.chat }] : x)))}>{t('添加「或」条件', 'Add OR condition')}</Button>
          </div>
        </div>
      ))}
      <Button type="dashed" block icon={<PlusOutlined />} style={{ marginTop: 12 }} disabled={disabled} data-testid="add-group"
        onClick={() => onChange([...groups, [{ ...defaults.ltv }]])}>{t('添加「并且」条件组', 'Add AND group')}</Button>
    </div>
  );
}
