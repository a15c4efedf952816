import { describe, expect, it } from 'vitest';
import type { GroupSend, LostCustomer, Welcome } from '../../api';
import { countByState, filterLost, groupRule, lostQuery, pngName, splitIds, stateProblem, tabKey, utf8Bytes, wayInput, welcomeRequest } from './model';

describe('tabKey', () => {
  it('opens the tab a link names and the first for none or an unknown one', () => {
    expect(tabKey('qr')).toBe('qr');
    expect(tabKey('group-sends')).toBe('group-sends');
    expect(tabKey(undefined)).toBe('tags');
    expect(tabKey('moments-not-here')).toBe('tags');
  });
});

describe('splitIds', () => {
  it('reads ids separated by lines, commas, spaces and 、, each once', () => {
    expect(splitIds('wm01\nwm02, wm03，wm01 、 wm04;wm05')).toEqual(['wm01', 'wm02', 'wm03', 'wm04', 'wm05']);
    expect(splitIds(['  zhangsan ', '', 'lisi', 'zhangsan'])).toEqual(['zhangsan', 'lisi']);
    expect(splitIds(undefined)).toEqual([]);
  });
});

describe('stateProblem', () => {
  it('takes 30 characters (counted as characters, not bytes) and refuses URL characters', () => {
    expect(stateProblem('店-上海徐汇-001')).toBe('');
    expect(stateProblem('米'.repeat(30))).toBe('');
    expect(stateProblem('米'.repeat(31))).toBe('stateTooLong');
    expect(stateProblem('  ')).toBe('stateRequired');
    expect(stateProblem('a/b')).toBe('stateChars');
    expect(stateProblem('50%')).toBe('stateChars');
  });
});

describe('wayInput', () => {
  it('trims the fields and reads the staff list', () => {
    expect(wayInput({ state: ' sku-5L ', kind: 'sku', ref: ' 6901234 ', users: ['zhangsan', ' lisi', 'zhangsan'], skip_verify: false })).toEqual({
      state: 'sku-5L', kind: 'sku', ref: '6901234', remark: '', users: ['zhangsan', 'lisi'], skip_verify: false,
    });
  });
});

describe('welcomeRequest', () => {
  const was: Welcome = { state: 's', text: 'old', tag_ids: [], updated_at: '', by: '', miniprogram: { title: 'm', pic_media_id: 'p', appid: 'a', page: 'x' } };
  it('sends a link only when it has a title or a URL and keeps the mini program', () => {
    expect(welcomeRequest({ text: ' 您好 ', link_title: '', link_url: '', tag_ids: ['t1'] }, was)).toEqual({ text: '您好', link: null, miniprogram: was.miniprogram, tag_ids: ['t1'] });
    expect(welcomeRequest({ text: '', link_url: 'https://x.cn/a' }).link).toEqual({ title: '', url: 'https://x.cn/a' });
    expect(welcomeRequest({}).tag_ids).toEqual([]);
  });
  it('counts bytes as WeCom does', () => {
    expect(utf8Bytes('米a')).toBe(4);
  });
});

describe('lost customers', () => {
  const lost = (k: string, staff: string, ext: string, change: string): LostCustomer =>
    ({ key: k, change_type: change, staff_userid: staff, external_userid: ext, person_id: 0, manager: 'boss', lost_at: '', status: 'off', ts: '' });
  const list = [lost('1', 'zhangsan', 'wmA', 'del_follow_user'), lost('2', 'lisi', 'wmB', 'del_external_contact'), lost('3', 'zhangsan', 'wmC', 'del_external_contact')];
  it('narrows by who ended the contact and by a userid', () => {
    expect(filterLost(list, { change_type: 'del_external_contact' }).map((l) => l.key)).toEqual(['2', '3']);
    expect(filterLost(list, { who: 'ZHANG' }).map((l) => l.key)).toEqual(['1', '3']);
    expect(filterLost(list, { who: 'wmc', change_type: 'del_external_contact' }).map((l) => l.key)).toEqual(['3']);
    expect(filterLost(list, { who: 'boss' })).toHaveLength(3);
    expect(filterLost(list, {})).toHaveLength(3);
  });
  it('asks the server for the alert statuses', () => {
    expect(lostQuery([])).toBe('/wecom/lost-customers?limit=500');
    expect(lostQuery(['sent', 'failed'])).toBe('/wecom/lost-customers?limit=500&status=sent%2Cfailed');
  });
});

describe('group sends', () => {
  const send = (chat: string, state: string): GroupSend => ({ task_id: 't', chat_id: chat, owner: 'o', day: '', state, at: '' });
  it('counts groups by state in the console order, unknown states last', () => {
    expect(countByState([send('a', 'failed'), send('b', 'delivered'), send('c', 'sent'), send('d', 'delivered'), send('e', 'zzz')])).toEqual([
      { state: 'sent', count: 1 }, { state: 'delivered', count: 2 }, { state: 'failed', count: 1 }, { state: 'zzz', count: 1 },
    ]);
    expect(countByState([])).toEqual([]);
  });
  it('writes the rule of a group with quotes escaped', () => {
    expect(groupRule('大米福利群')).toBe('tag("wecom_group:大米福利群")');
    expect(groupRule('a"b')).toBe('tag("wecom_group:a\\"b")');
  });
  it('names the PNG after the State', () => {
    expect(pngName('门店 001')).toBe('qr-门店_001.png');
  });
});
