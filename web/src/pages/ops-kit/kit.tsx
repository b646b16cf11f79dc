import type { ReactNode } from 'react';

/**
 * Small pieces the operator pages share (alerts, incidents, SLA, backups,
 * audit, access, settings): what an action said, facts as a definition list,
 * a response or a form's values as typed. Built on the shell's ui; nothing
 * here knows an area.
 */

/** These moved to the shell's ui (the tenant admin's pages use them too); the operator pages still find them here. */
export { ConfirmAction, FilterCheck, FilterText, useFormValues } from '../../ui/index.ts';

/** What the last action did, announced politely to screen readers. */
export function Flash(props: { readonly text: string | null }) {
  return (
    <p className="banner banner-ok" role="status" hidden={!props.text}>
      {props.text ?? ''}
    </p>
  );
}

/** Label and value pairs of one thing. */
export function Facts(props: {
  readonly label: string;
  readonly items: readonly (readonly [string, ReactNode])[];
}) {
  return (
    <dl className="facts" aria-label={props.label}>
      {props.items.map(([term, value]) => (
        <div key={term}>
          <dt>{term}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/**
 * A response as the shape a page names. The typed client's bodies are
 * `unknown` for routes whose contract has not landed yet; once it has, the
 * generated type still flows in here and the page keeps the fields it shows.
 */
export async function shaped<T>(call: Promise<unknown>): Promise<T> {
  return (await call) as T;
}

/**
 * A form's values sent as typed: the API is the one place that parses them,
 * and its message names the field, the value given and what it accepts (a
 * length "2 h" or a status "abc" reaches it as written, not as NaN). The
 * body's type comes from the call it is passed to.
 */
export function asTyped<T>(values: Readonly<Record<string, unknown>>): T {
  return values as T;
}
