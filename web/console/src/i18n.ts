import { useCallback } from 'react';
import i18next from 'i18next';
import { initReactI18next, useTranslation } from 'react-i18next';
import zhCN from './locales/zh-CN.json';
import en from './locales/en.json';

// The console speaks Chinese (zh-CN) by default and English on request.
// Its text lives in message catalogs, locales/zh-CN.json and
// locales/en.json, one namespace a page or component ("common" for what
// several share; "names" for the API's channel, status and reason names,
// "errors" for the server's error codes). Call sites use
// useTranslation's t('campaignEditor.launch'); the keys are typed from the
// zh-CN catalog (see CustomTypeOptions below), and a unit test checks the
// English catalog has the same keys and placeholders.
//
// Some messages show a campaign template's own placeholders ({{name}},
// {{staff}}, ...) as text: their call sites pass no values of those names,
// and i18next leaves a placeholder it has no value for as written.

// Lang is the language switch's value, stored in localStorage (cdp.lang).
export type Lang = 'zh' | 'en';

const languages: Record<Lang, string> = { zh: 'zh-CN', en: 'en' };

export const resources = { 'zh-CN': { translation: zhCN }, en: { translation: en } } as const;

declare module 'i18next' {
  interface CustomTypeOptions {
    resources: { translation: typeof zhCN };
  }
}

export function initialLang(): Lang {
  const saved = localStorage.getItem('cdp.lang');
  return saved === 'en' ? 'en' : 'zh';
}

void i18next.use(initReactI18next).init({
  resources,
  lng: languages[initialLang()],
  fallbackLng: 'zh-CN',
  interpolation: { escapeValue: false }, // React escapes what it renders
  initAsync: false,
});

// useLang is the current language and the switch between them.
export function useLang() {
  const { i18n } = useTranslation();
  const lang: Lang = i18n.language === 'en' ? 'en' : 'zh';
  const setLang = useCallback((l: Lang) => {
    localStorage.setItem('cdp.lang', l);
    void i18n.changeLanguage(languages[l]);
  }, [i18n]);
  return { lang, setLang };
}

// useName names channels, identifier types, groups, states and reasons as
// the API spells them (catalog namespace "names"); an unknown one is shown
// as it is. kind 'id' names an identifier type (phone: 手机号, not 电话订购).
export function useName() {
  const { t } = useTranslation();
  return (key: string, kind?: 'id') => {
    const k = kind === 'id' && key === 'phone' ? 'phone_id' : key;
    return t(('names.' + k) as 'names.tmall', { defaultValue: key });
  };
}
