import { createContext, useContext } from 'react';

// The console speaks Chinese by default and English on request. Every
// string is written in both languages where it is used — t('人群', 'Segments')
// — so no text can lack a translation.
export type Lang = 'zh' | 'en';

export const LangContext = createContext<{ lang: Lang; setLang: (l: Lang) => void }>({ lang: 'zh', setLang: () => {} });

export function useLang() {
  return useContext(LangContext);
}

export function useT() {
  const { lang } = useContext(LangContext);
  return (zh: string, en: string) => (lang === 'zh' ? zh : en);
}

export function initialLang(): Lang {
  const saved = localStorage.getItem('cdp.lang');
  return saved === 'en' ? 'en' : 'zh';
}

// Names of channels, identifier types, groups and reasons as the API spells them.
const names: Record<string, [string, string]> = {
  tmall: ['天猫', 'Tmall'],
  douyin: ['抖音', 'Douyin'],
  douyin_shop: ['抖音小店', 'Douyin shop'],
  group_buy: ['社区团购', 'Group buying'],
  pos: ['门店 POS', 'Store POS'],
  phone: ['电话订购', 'Phone orders'],
  mini_program: ['小程序', 'Mini program'],
  wecom: ['企业微信', 'WeCom'],
  default: ['默认来源', 'Default source'],
  demo: ['演示数据', 'Demo'],
  outbox: ['记录待发（发件箱）', 'Outbox (record only)'],
  webhook: ['短信网关 / Webhook', 'SMS gateway / webhook'],
  robot: ['企业微信群机器人', 'WeCom group robot'],
  once: ['一次性发送', 'Send once'],
  segment_entry: ['进入人群即触发', 'On segment entry'],
  replenishment: ['补货提醒', 'Replenishment reminder'],
  rice: ['大米', 'Rice'],
  oil: ['食用油', 'Cooking oil'],
  sending: ['发送中', 'Sending'],
  done: ['已完成', 'Done'],
  not_friend: ['已不是员工好友', 'No longer a contact'],
  wecom_cap: ['超出企业微信每日群发上限', 'Over WeCom\'s daily cap'],
  wecom_refused: ['企业微信拒绝创建任务', 'Refused by WeCom'],
  wecom_fail_list: ['企业微信拒收（fail_list）', 'Refused by WeCom (fail_list)'],
  webhook_refused: ['网关拒收', 'Refused by the gateway'],
  channel_refused: ['渠道拒收', 'Refused by the channel'],
  unknown: ['结果未知（未重发）', 'Unknown (not resent)'],
  event: ['行为事件', 'Events'],
  order: ['订单', 'Orders'],
  wecom_contact: ['企微加好友', 'WeCom contacts'],
  chat: ['企微聊天', 'WeCom chats'],
  treatment: ['实验组', 'Treatment'],
  holdout: ['对照组', 'Holdout'],
  excluded: ['已排除', 'Excluded'],
  draft: ['草稿', 'Draft'],
  running: ['进行中', 'Running'],
  finished: ['已完成', 'Finished'],
  cancelled: ['已取消', 'Cancelled'],
  scheduled: ['已排期', 'Scheduled'],
  planned: ['已计划', 'Planned'],
  sent: ['已发送', 'Sent'],
  delivered: ['已送达', 'Delivered'],
  failed: ['失败', 'Failed'],
  not_sent: ['未发送', 'Not sent'],
  opted_out: ['已退订', 'Opted out'],
  no_sensitive_consent: ['无敏感信息单独同意', 'No sensitive-data consent'],
  cap_reached: ['触达频次已满', 'Frequency cap reached'],
  quiet_hours: ['免打扰时段', 'Quiet hours'],
  no_channel_address: ['无触达渠道', 'No channel address'],
  global_control: ['全局对照组', 'Global control'],
  send_limit: ['超出发送上限', 'Send limit'],
  suppressed: ['已屏蔽', 'Suppressed'],
  channel_cap_reached: ['渠道群发次数已满', 'Channel cap reached'],
  phone_id: ['手机号', 'Phone'],
  unionid: ['微信 UnionID', 'WeChat UnionID'],
  openid: ['微信 OpenID', 'WeChat OpenID'],
  wecom_external_userid: ['企微外部联系人 ID', 'WeCom external user id'],
  douyin_openid: ['抖音 OpenID', 'Douyin OpenID'],
  member_no: ['会员号', 'Member number'],
  tmall_ouid: ['天猫 OUID', 'Tmall OUID'],
  device_id: ['设备 ID', 'Device id'],
  anonymous_id: ['匿名 ID', 'Anonymous id'],
  user_id: ['用户 ID', 'User id'],
  email: ['邮箱', 'E-mail'],
  admin: ['管理员', 'Admin'],
  video_play: ['观看视频', 'Watched video'],
  video_complete: ['完播视频', 'Completed video'],
  like: ['点赞', 'Liked'],
  comment: ['评论', 'Commented'],
  share: ['分享', 'Shared'],
  search: ['搜索', 'Searched'],
  live_enter: ['进入直播间', 'Joined live stream'],
  created: ['已下单', 'Created'],
  paid: ['已付款', 'Paid'],
  shipped: ['已发货', 'Shipped'],
  completed: ['已完成', 'Completed'],
  refunded: ['已退款', 'Refunded'],
  marketer: ['运营', 'Marketer'],
  analyst: ['分析师（只读）', 'Analyst (read-only)'],
};

export function useName() {
  const { lang } = useContext(LangContext);
  return (key: string, kind?: 'id') => {
    const n = names[kind === 'id' && key === 'phone' ? 'phone_id' : key];
    return n ? n[lang === 'zh' ? 0 : 1] : key;
  };
}
