import { describeError } from '../app/api.ts';
import { useT } from '../app/i18n.tsx';

/** The API's message (it names the field, the value and what is accepted), as an alert. */
export function ErrorBanner(props: { readonly error: unknown; readonly title?: string }) {
  const t = useT();
  if (props.error === undefined || props.error === null) return null;
  const { message, field, status } = describeError(props.error);
  return (
    <div className="banner banner-error" role="alert">
      <strong>{props.title ?? (status === 403 ? t('ui.error.forbidden') : t('ui.error.title'))}</strong>{' '}
      <span>{message}</span>
      {field ? <span className="muted"> ({t('ui.error.field', { field })})</span> : null}
    </div>
  );
}
