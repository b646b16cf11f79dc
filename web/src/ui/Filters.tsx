import { useEffect, useState } from 'react';
import { useUrlState } from '../app/url.ts';

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
