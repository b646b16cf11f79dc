import { useId, useRef, type KeyboardEvent, type ReactNode } from 'react';

/**
 * Tabs whose selection the caller keeps (in the URL: `?tab=logs`). The
 * WAI-ARIA pattern: arrow keys, Home and End move between tabs.
 */
export function Tabs(props: {
  readonly label: string;
  readonly tabs: readonly { readonly key: string; readonly label: string }[];
  readonly selected: string;
  readonly onSelect: (key: string) => void;
  readonly children: ReactNode;
}) {
  const base = useId();
  const refs = useRef(new Map<string, HTMLButtonElement>());
  const index = Math.max(
    0,
    props.tabs.findIndex((tab) => tab.key === props.selected),
  );
  const move = (event: KeyboardEvent) => {
    const last = props.tabs.length - 1;
    const next =
      event.key === 'ArrowRight'
        ? index === last
          ? 0
          : index + 1
        : event.key === 'ArrowLeft'
          ? index === 0
            ? last
            : index - 1
          : event.key === 'Home'
            ? 0
            : event.key === 'End'
              ? last
              : -1;
    if (next < 0) return;
    event.preventDefault();
    const tab = props.tabs[next]!;
    props.onSelect(tab.key);
    refs.current.get(tab.key)?.focus();
  };
  const current = props.tabs[index];
  return (
    <div className="tabs">
      <div role="tablist" aria-label={props.label} onKeyDown={move}>
        {props.tabs.map((tab) => {
          const selected = tab.key === current?.key;
          return (
            <button
              key={tab.key}
              ref={(element) => {
                if (element) refs.current.set(tab.key, element);
              }}
              type="button"
              role="tab"
              id={`${base}-tab-${tab.key}`}
              aria-selected={selected}
              aria-controls={`${base}-panel`}
              tabIndex={selected ? 0 : -1}
              onClick={() => props.onSelect(tab.key)}
            >
              {tab.label}
            </button>
          );
        })}
      </div>
      <div
        role="tabpanel"
        id={`${base}-panel`}
        aria-labelledby={`${base}-tab-${current?.key ?? ''}`}
        tabIndex={0}
      >
        {props.children}
      </div>
    </div>
  );
}
