import { useEffect, type ReactNode } from 'react';
import { useT } from '../app/i18n.tsx';

/** A page's heading and actions; the document's title follows the heading. */
export function Page(props: {
  readonly title: string;
  readonly actions?: ReactNode;
  readonly children: ReactNode;
  readonly crumbs?: ReactNode;
}) {
  const t = useT();
  useEffect(() => {
    document.title = `${props.title} · Steward`;
  }, [props.title]);
  return (
    <>
      {props.crumbs ? (
        <nav aria-label={t('ui.breadcrumb')} className="crumbs">
          {props.crumbs}
        </nav>
      ) : null}
      <div className="page-head">
        <h1 tabIndex={-1}>{props.title}</h1>
        {props.actions ? <div className="actions">{props.actions}</div> : null}
      </div>
      {props.children}
    </>
  );
}
