import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';

/** A catalogue of one language: a flat map of dotted keys (`tenants.list.title`) to text with `{name}` slots. */
export type Messages = Readonly<Record<string, string>>;

export const languages = ['en', 'de'] as const;
export type Language = (typeof languages)[number];

const storageKey = 'steward.language';

/** The stored choice, else the browser's first language we have, else English. */
export function initialLanguage(stored: string | null, browser: readonly string[]): Language {
  if (stored && (languages as readonly string[]).includes(stored)) return stored as Language;
  for (const tag of browser) {
    const base = tag.toLowerCase().split('-')[0];
    if ((languages as readonly string[]).includes(base ?? '')) return base as Language;
  }
  return 'en';
}

export type Translate = (key: string, vars?: Readonly<Record<string, string | number>>) => string;

/** Looks a key up in the language, then in English, then shows the key itself (a missing text is visible, not blank). */
export function translator(catalogues: Readonly<Record<Language, Messages>>, language: Language): Translate {
  return (key, vars) => {
    const text = catalogues[language][key] ?? catalogues.en[key] ?? key;
    if (!vars) return text;
    return text.replace(/\{(\w+)\}/g, (slot, name: string) => (name in vars ? String(vars[name]) : slot));
  };
}

export function mergeCatalogues(
  parts: readonly { readonly en: Messages; readonly de: Messages }[],
): Record<Language, Messages> {
  return {
    en: Object.assign({}, ...parts.map((part) => part.en)) as Messages,
    de: Object.assign({}, ...parts.map((part) => part.de)) as Messages,
  };
}

interface I18n {
  readonly language: Language;
  readonly t: Translate;
  readonly setLanguage: (language: Language) => void;
  /** Dates and numbers in the language's format. */
  readonly formatDate: (value: string | Date | null | undefined) => string;
  readonly formatNumber: (value: number) => string;
}

const I18nContext = createContext<I18n | null>(null);

export function I18nProvider(props: {
  readonly catalogues: Readonly<Record<Language, Messages>>;
  readonly children: ReactNode;
}) {
  const [language, setState] = useState<Language>(() =>
    initialLanguage(safeStorage()?.getItem(storageKey) ?? null, navigator.languages ?? [navigator.language]),
  );
  const setLanguage = useCallback((next: Language) => {
    safeStorage()?.setItem(storageKey, next);
    setState(next);
  }, []);
  const value = useMemo<I18n>(() => {
    const locale = language === 'de' ? 'de-DE' : 'en-GB';
    const dates = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' });
    const numbers = new Intl.NumberFormat(locale);
    document.documentElement.lang = language;
    return {
      language,
      t: translator(props.catalogues, language),
      setLanguage,
      formatDate: (raw) => {
        if (raw === null || raw === undefined || raw === '') return '—';
        const date = typeof raw === 'string' ? new Date(raw) : raw;
        return Number.isNaN(date.getTime()) ? String(raw) : dates.format(date);
      },
      formatNumber: (n) => numbers.format(n),
    };
  }, [language, props.catalogues, setLanguage]);
  return <I18nContext.Provider value={value}>{props.children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const value = useContext(I18nContext);
  if (!value) throw new Error('useI18n outside I18nProvider');
  return value;
}

/** The translate function of the current language. */
export function useT(): Translate {
  return useI18n().t;
}

function safeStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}
