import { useEffect, useId, useRef, type ReactNode } from 'react';
import { useT } from '../app/i18n.tsx';
import { Button } from './Button.tsx';
import { ErrorBanner } from './ErrorBanner.tsx';

/**
 * A modal confirmation on the platform's <dialog>: showModal() makes the
 * rest of the page inert (focus stays inside), Escape cancels, and focus
 * returns to what opened it.
 */
export function ConfirmDialog(props: {
  readonly open: boolean;
  readonly title: string;
  readonly children?: ReactNode;
  readonly confirmLabel: string;
  readonly danger?: boolean;
  readonly busy?: boolean;
  /** Keeps the confirm button off until the operator has done what the dialog asks (typed a name). */
  readonly confirmDisabled?: boolean;
  readonly error?: unknown;
  readonly onConfirm: () => void;
  readonly onCancel: () => void;
}) {
  const t = useT();
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const opener = useRef<Element | null>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) {
      opener.current = document.activeElement;
      dialog.showModal();
    } else if (!props.open && dialog.open) {
      dialog.close();
      if (opener.current instanceof HTMLElement) opener.current.focus();
    }
  }, [props.open]);
  // Shown conditionally by its parent, it may leave by unmounting: focus goes back all the same.
  useEffect(
    () => () => {
      if (opener.current instanceof HTMLElement) opener.current.focus();
    },
    [],
  );
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        props.onCancel();
      }}
    >
      <h2 id={titleId}>{props.title}</h2>
      {props.children}
      <ErrorBanner error={props.error} />
      <div className="actions">
        <Button onClick={props.onCancel}>{t('ui.cancel')}</Button>
        <Button
          variant={props.danger ? 'danger' : 'primary'}
          busy={props.busy ?? false}
          disabled={props.confirmDisabled}
          onClick={props.onConfirm}
        >
          {props.confirmLabel}
        </Button>
      </div>
    </dialog>
  );
}
