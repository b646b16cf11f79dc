import { useEffect, useRef, useState } from 'react';
import type { ConsoleApi } from '../../app/api.ts';
import { useI18n } from '../../app/i18n.tsx';
import { useMutation } from '../../app/query.ts';
import { Button, Form, SelectField, TextField } from '../../ui/index.ts';
import type { ContactRow } from './types.ts';

/**
 * Sets the address an operator is paged at (the API takes an email address:
 * page emails carry the acknowledge link). The API's message about the
 * address or the operator shows under that field.
 */
export function ContactEditor(props: {
  readonly contacts: readonly ContactRow[];
  /** The operator whose Edit button was pressed (seq counts the presses): the form takes it and its address. */
  readonly editing: { readonly username: string; readonly seq: number } | null;
  readonly onSaved: (contact: ContactRow) => void;
}) {
  const { t } = useI18n();
  const addressOf = (username: string) => props.contacts.find((c) => c.username === username)?.email ?? '';
  const [operator, setOperator] = useState(props.editing?.username ?? props.contacts[0]?.username ?? '');
  const [email, setEmail] = useState(() => addressOf(operator));
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (props.editing === null) return;
    setOperator(props.editing.username);
    setEmail(addressOf(props.editing.username));
    box.current?.querySelector<HTMLInputElement>('input[name="email"]')?.focus();
    // Only a new Edit press takes the row over; the list refetching keeps what is being typed.
  }, [props.editing?.seq]);
  const save = useMutation(
    (api: ConsoleApi, input: { operator: string; email: string }) =>
      api.put('/api/v1/oncall/contacts/{operator}', {
        params: { operator: input.operator },
        body: { email: input.email },
      }),
    { onSuccess: (contact) => props.onSaved(contact) },
  );
  return (
    <div ref={box}>
      <Form
        label={t('oncall.contact.edit')}
        error={save.error}
        onSubmit={() => save.mutate({ operator, email: email.trim() })}
      >
        <SelectField
          name="operator"
          label={t('oncall.contact.operator')}
          value={operator}
          options={props.contacts.map((c) => ({ value: c.username, label: c.username }))}
          onValue={(value) => {
            setOperator(value);
            setEmail(addressOf(value));
          }}
        />
        <TextField
          name="email"
          type="email"
          autoComplete="off"
          label={t('oncall.contact.emailLabel')}
          value={email}
          onValue={setEmail}
          required
        />
        <Button type="submit" variant="primary" busy={save.pending}>
          {t('oncall.contact.save')}
        </Button>
      </Form>
    </div>
  );
}
