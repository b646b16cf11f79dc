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
import { Button } from './Button.tsx';
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

/** A yes/no field: the box inside its label; the API's error for it shows below. */
export function CheckField({
  name,
  label,
  checked,
  onChecked,
  ...input
}: {
  readonly name: string;
  readonly label: string;
  readonly checked: boolean;
  readonly onChecked: (checked: boolean) => void;
} & Omit<InputHTMLAttributes<HTMLInputElement>, 'name' | 'onChange' | 'checked' | 'type'>) {
  const id = useId();
  const error = useFieldError(name);
  return (
    <div className={`field${error ? ' field-invalid' : ''}`}>
      <label className="inline">
        <input
          {...input}
          type="checkbox"
          name={name}
          checked={checked}
          onChange={(event) => onChecked(event.target.checked)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? `${id}-error` : undefined}
        />{' '}
        {label}
      </label>
      {error ? (
        <div className="field-error" id={`${id}-error`} role="alert">
          {error}
        </div>
      ) : null}
    </div>
  );
}

/**
 * A form under its own heading, in a section it names: an intro, a notice
 * (what the last submit did), the fields, and the submit button last.
 */
export function FormSection(props: {
  readonly title: string;
  /** The heading's level: 2 for a page's form, 3 for one inside a section. */
  readonly level?: 2 | 3;
  readonly id?: string;
  readonly intro?: ReactNode;
  readonly notice?: ReactNode;
  readonly onSubmit: () => void | Promise<unknown>;
  readonly error: unknown;
  readonly submitLabel: string;
  readonly busy: boolean;
  readonly children: ReactNode;
}) {
  const generated = useId();
  const id = props.id ?? generated;
  const Heading = props.level === 3 ? 'h3' : 'h2';
  return (
    <section aria-labelledby={id}>
      <Heading id={id}>{props.title}</Heading>
      {props.intro}
      {props.notice}
      <Form onSubmit={props.onSubmit} error={props.error} label={props.title}>
        {props.children}
        <Button type="submit" variant="primary" busy={props.busy}>
          {props.submitLabel}
        </Button>
      </Form>
    </section>
  );
}
