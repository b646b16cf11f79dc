import { useParams } from 'wouter';
import { useT } from '../../app/i18n.tsx';
import { Page } from '../../ui/index.ts';

export default function StageDetail() {
  const t = useT();
  const params = useParams<{ tenant: string; stage?: string }>();
  return (
    <Page title={`${t('tenants.detail.title')} ${params.tenant}`}>
      <p>{params.stage ?? ''}</p>
    </Page>
  );
}
