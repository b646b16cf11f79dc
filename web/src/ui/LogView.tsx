import { useEffect, useRef } from 'react';
import { useT } from '../app/i18n.tsx';

/** A block of text (a config, a fingerprint, a command). */
export function CodeBlock(props: { readonly children: string; readonly label?: string }) {
  return (
    <pre className="code" aria-label={props.label} tabIndex={0}>
      {props.children}
    </pre>
  );
}

/**
 * Log lines; with `follow` the view stays at the newest line as lines
 * arrive (a reader who scrolled up turns follow off).
 */
export function LogView(props: {
  readonly lines: readonly string[];
  readonly follow: boolean;
  readonly onFollow: (follow: boolean) => void;
  readonly label: string;
}) {
  const t = useT();
  const ref = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const element = ref.current;
    if (element && props.follow) element.scrollTop = element.scrollHeight;
  }, [props.lines, props.follow]);
  return (
    <div className="logview">
      <label className="inline">
        <input
          type="checkbox"
          checked={props.follow}
          onChange={(event) => props.onFollow(event.target.checked)}
        />{' '}
        {t('ui.log.follow')}
      </label>
      <pre ref={ref} className="code log" aria-label={props.label} tabIndex={0}>
        {props.lines.length ? props.lines.join('\n') : t('ui.log.empty')}
      </pre>
    </div>
  );
}
