import { useEffect, useState, type ReactNode } from 'react';
import { useUrlState } from '../../app/url.ts';
import type { ConsoleApi } from '../../app/api.ts';
import { useMutation } from '../../app/query.ts';
import { Button, ConfirmDialog } from '../../ui/index.ts';

/**
 * Small pieces the operator pages share (alerts, incidents, SLA, backups,
 * audit, access, settings): what an action said, facts as a definition list,
 * and an action that asks first. Built on the shell's ui; nothing here knows
 * an area.
 */

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
 * A button that asks in a dialog, then runs the call; the API's error shows
 * in the dialog, which stays open. `onDone` gets the answer (to say what
 * happened and refetch).
 */
export function ConfirmAction<O>(props: {
  readonly label: string;
  /** The button's accessible name when `label` alone is ambiguous in a table (Remove … of which row). */
  readonly ariaLabel?: string;
  readonly title: string;
  readonly confirmLabel?: string;
  readonly danger?: boolean;
  readonly variant?: 'primary' | 'secondary' | 'danger' | 'link';
  readonly children?: ReactNode;
  readonly run: (api: ConsoleApi) => Promise<O>;
  readonly onDone: (answer: O) => void;
}) {
  const [open, setOpen] = useState(false);
  const action = useMutation((api: ConsoleApi, _input: null) => props.run(api), {
    onSuccess: (answer) => {
      setOpen(false);
      props.onDone(answer);
    },
  });
  return (
    <>
      <Button
        variant={props.variant ?? (props.danger ? 'danger' : 'secondary')}
        aria-label={props.ariaLabel}
        onClick={() => {
          action.reset();
          setOpen(true);
        }}
      >
        {props.label}
      </Button>
      <ConfirmDialog
        open={open}
        title={props.title}
        confirmLabel={props.confirmLabel ?? props.label}
        danger={props.danger ?? false}
        busy={action.pending}
        error={action.error}
        onConfirm={() => void action.mutate(null)}
        onCancel={() => setOpen(false)}
      >
        {props.children}
      </ConfirmDialog>
    </>
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

/**
 * A text filter bound to a query parameter of the URL (a pasted link keeps
 * it); it asks the API once typing pauses, not at every key, and starts the
 * list again from its first page.
 */
export function FilterText(props: { readonly name: string; readonly label: string; readonly size?: number }) {
  const url = useUrlState();
  const current = url.get(props.name);
  const [text, setText] = useState(current);
  useEffect(() => setText(current), [current]);
  useEffect(() => {
    if (text === current) return undefined;
    const timer = setTimeout(() => url.set({ [props.name]: text, cursor: null }), 250);
    return () => clearTimeout(timer);
  });
  return (
    <label>
      {props.label}
      <input
        type="search"
        name={props.name}
        value={text}
        size={props.size}
        onChange={(event) => setText(event.target.value)}
      />
    </label>
  );
}

/**
 * A form's text values and the props that bind a TextField or SelectField to
 * one of them: `field('tenant')` gives its name (the API's field, or the one
 * given, so the API's message lands under it), value and onValue.
 */
export function useFormValues<T extends { readonly [K in keyof T]: string }>(initial: T | (() => T)) {
  const [values, setValues] = useState<T>(initial);
  const field = (key: keyof T & string, name: string = key) => ({
    name,
    value: values[key],
    onValue: (value: string) => setValues((previous) => ({ ...previous, [key]: value })),
  });
  const reset = () => setValues(initial);
  return { values, field, reset };
}

/** A yes/no filter bound to a query parameter (`all=true`, `open=true`); unchecked drops it from the URL. */
export function FilterCheck(props: { readonly name: string; readonly label: string }) {
  const url = useUrlState();
  return (
    <label className="inline">
      <input
        type="checkbox"
        name={props.name}
        checked={url.get(props.name) === 'true'}
        onChange={(event) => url.set({ [props.name]: event.target.checked ? 'true' : null, cursor: null })}
      />{' '}
      {props.label}
    </label>
  );
}
