import {
  createContext,
  useContext,
  useEffect,
  useId,
  useRef,
  type FormEvent,
  type InputHTMLAttributes,
  type ReactNode,
  type SelectHTMLAttributes,
} from 'react';
import { describeError } from '../app/api.ts';
import { ErrorBanner } from './ErrorBanner.tsx';

interface FormState {
  readonly error: unknown;
  readonly fields: Set<string>;
}

const FormContext = createContext<FormState | null>(null);

/**
 * A form whose API error lands under the field it names (`field: "slug"`,
 * or `stages.0` under the field `stages`); an error that names no
 * field of this form shows as a banner above it.
 */
export function Form(props: {
  readonly onSubmit: () => void | Promise<unknown>;
  readonly error?: unknown;
  readonly children: ReactNode;
  readonly label?: string;
  readonly className?: string;
}) {
  const fields = useRef(new Set<string>()).current;
  const { field } = describeError(props.error);
  const placed = field !== null && [...fields].some((name) => field === name || field.startsWith(`${name}.`));
  const unplaced = props.error !== undefined && props.error !== null && !placed;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void props.onSubmit();
  };
  return (
    <FormContext.Provider value={{ error: props.error, fields }}>
      <form onSubmit={submit} noValidate aria-label={props.label} className={props.className ?? 'form'}>
        {unplaced ? <ErrorBanner error={props.error} /> : null}
        {props.children}
      </form>
    </FormContext.Provider>
  );
}

/** The error message for this field, if the form's error names it; registers the field. */
function useFieldError(name: string): string | null {
  const form = useContext(FormContext);
  useEffect(() => {
    form?.fields.add(name);
    return () => {
      form?.fields.delete(name);
    };
  }, [form, name]);
  if (!form || form.error === undefined || form.error === null) return null;
  const { field, message } = describeError(form.error);
  return field !== null && (field === name || field.startsWith(`${name}.`)) ? message : null;
}

interface FieldChrome {
  readonly name: string;
  readonly label: string;
  readonly hint?: string;
}

function FieldFrame(
  props: FieldChrome & { readonly id: string; readonly error: string | null; readonly children: ReactNode },
) {
  return (
    <div className={`field${props.error ? ' field-invalid' : ''}`}>
      <label htmlFor={props.id}>{props.label}</label>
      {props.children}
      {props.hint ? (
        <div className="hint" id={`${props.id}-hint`}>
          {props.hint}
        </div>
      ) : null}
      {props.error ? (
        <div className="field-error" id={`${props.id}-error`} role="alert">
          {props.error}
        </div>
      ) : null}
    </div>
  );
}

function describedBy(id: string, hint: string | undefined, error: string | null): string | undefined {
  const ids = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean);
  return ids.length ? ids.join(' ') : undefined;
}

export function TextField({
  name,
  label,
  hint,
  onValue,
  ...input
}: FieldChrome & { readonly onValue: (value: string) => void } & Omit<
    InputHTMLAttributes<HTMLInputElement>,
    'name' | 'onChange'
  >) {
  const id = useId();
  const error = useFieldError(name);
  return (
    <FieldFrame id={id} name={name} label={label} hint={hint} error={error}>
      <input
        {...input}
        id={id}
        name={name}
        onChange={(event) => onValue(event.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(id, hint, error)}
      />
    </FieldFrame>
  );
}

export function SelectField({
  name,
  label,
  hint,
  options,
  onValue,
  ...select
}: FieldChrome & {
  readonly options: readonly { readonly value: string; readonly label: string }[];
  readonly onValue: (value: string) => void;
} & Omit<SelectHTMLAttributes<HTMLSelectElement>, 'name' | 'onChange'>) {
  const id = useId();
  const error = useFieldError(name);
  return (
    <FieldFrame id={id} name={name} label={label} hint={hint} error={error}>
      <select
        {...select}
        id={id}
        name={name}
        onChange={(event) => onValue(event.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(id, hint, error)}
      >
        {options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    </FieldFrame>
  );
}
