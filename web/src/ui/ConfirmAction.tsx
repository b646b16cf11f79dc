import { useState, type ReactNode } from 'react';
import type { ConsoleApi } from '../app/api.ts';
import { useMutation } from '../app/query.ts';
import { Button } from './Button.tsx';
import { ConfirmDialog } from './ConfirmDialog.tsx';

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
