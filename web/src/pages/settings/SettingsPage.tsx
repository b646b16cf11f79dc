import { useState } from 'react';
import { itemsOf } from '../../app/api.ts';
import { useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import { useUrlState } from '../../app/url.ts';
import { CodeBlock, ErrorBanner, Page, StatusBadge, Tabs } from '../../ui/index.ts';
import { formatDuration } from '../ops-kit/format.ts';
import { useI18n } from '../../app/i18n.tsx';
import { ConfirmAction, Flash, shaped } from '../ops-kit/kit.tsx';
import { Channels } from './Channels.tsx';
import { Limits } from './Limits.tsx';
import { Regions } from './Regions.tsx';
import { TenantPolicies } from './TenantPolicies.tsx';

interface MasterKeys {
  readonly activeKeyId: string;
  readonly keys: readonly { readonly id: string; readonly retiredAt: string; readonly purgeableAt: string }[];
  readonly retentionDays: number;
}

interface NodeRow {
  readonly name: string;
  readonly apiUrl: string | null;
  readonly host: string;
  readonly heartbeatAgeSeconds: number;
  readonly health: string;
  readonly leases: readonly string[];
}

/**
 * Settings, by tab (in the URL): a tenant's policies (backups, SLA, breach
 * notice terms), notification channels, the effective limits and the
 * regions, the master keys (owners), and the system (stage isolation,
 * Steward nodes). Limits and regions come from Steward's config file, read
 * at start: those tabs show them with the config field to edit.
 */
export default function SettingsPage() {
  const { t } = useI18n();
  const can = useCan();
  const url = useUrlState();
  const tabs = [
    'policies',
    'notifications',
    ...(can('settings.read') ? ['limits', 'regions'] : []),
    ...(can('secrets.rotate') ? ['keys'] : []),
    'system',
  ];
  const tab = tabs.includes(url.get('tab')) ? url.get('tab') : 'policies';
  return (
    <Page title={t('settings.title')}>
      <Tabs
        label={t('settings.title')}
        tabs={tabs.map((key) => ({ key, label: t(`settings.tab.${key}`) }))}
        selected={tab}
        onSelect={(key) => url.set({ tab: key, cursor: null }, 'push')}
      >
        {tab === 'policies' ? <TenantPolicies /> : null}
        {tab === 'notifications' ? <Channels /> : null}
        {tab === 'limits' ? <Limits /> : null}
        {tab === 'regions' ? <Regions /> : null}
        {tab === 'keys' ? <Keys /> : null}
        {tab === 'system' ? <System /> : null}
      </Tabs>
    </Page>
  );
}

function Keys() {
  const { t, formatDate } = useI18n();
  const [flash, setFlash] = useState<string | null>(null);
  const keys = useQuery(['master-keys'], (api, signal) =>
    shaped<MasterKeys>(api.get('/api/v1/secrets/master-keys', { signal })),
  );
  return (
    <>
      <Flash text={flash} />
      <ErrorBanner error={keys.error} />
      {keys.data ? (
        <>
          <p>{t('settings.keys.active', { id: keys.data.activeKeyId })}</p>
          <h2>{t('settings.keys.retired')}</h2>
          {keys.data.keys.length === 0 ? <p className="muted">{t('settings.keys.none')}</p> : null}
          <ul>
            {keys.data.keys.map((k) => (
              <li key={k.id}>{`${k.id}: ${formatDate(k.retiredAt)} → ${formatDate(k.purgeableAt)}`}</li>
            ))}
          </ul>
        </>
      ) : null}
      <ConfirmAction
        danger
        label={t('settings.keys.rotate')}
        title={t('settings.keys.rotate.confirm')}
        run={(api) => api.post('/api/v1/secrets/rotate-master-key')}
        onDone={() => {
          setFlash(t('settings.keys.rotated'));
          keys.refetch();
        }}
      />
    </>
  );
}

function System() {
  const { t } = useI18n();
  const isolation = useQuery(['isolation'], (api, signal) =>
    shaped<unknown>(api.get('/api/v1/system/isolation', { signal })),
  );
  const nodes = useQuery(
    ['nodes'],
    async (api, signal) => itemsOf<NodeRow>(await api.get('/api/v1/nodes', { signal })),
    {
      topics: ['nodes'],
    },
  );
  return (
    <>
      <h2>{t('settings.system.nodes')}</h2>
      <ErrorBanner error={nodes.error} />
      <table aria-label={t('settings.system.nodes')}>
        <thead>
          <tr>
            <th scope="col">{t('settings.system.node')}</th>
            <th scope="col">{t('settings.system.health')}</th>
            <th scope="col">{t('settings.system.heartbeat')}</th>
            <th scope="col">API</th>
          </tr>
        </thead>
        <tbody>
          {nodes.data?.map((n) => (
            <tr key={n.name}>
              <th scope="row">{`${n.name} (${n.host})`}</th>
              <td>
                <StatusBadge
                  state={n.health}
                  tone={n.health === 'live' ? 'good' : n.health === 'late' ? 'warn' : 'bad'}
                />
              </td>
              <td>{formatDuration(n.heartbeatAgeSeconds * 1000)}</td>
              <td>{n.apiUrl ?? '–'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>{t('settings.system.isolation')}</h2>
      <ErrorBanner error={isolation.error} />
      {isolation.data ? (
        <CodeBlock label={t('settings.system.isolation')}>
          {JSON.stringify(isolation.data, null, 2)}
        </CodeBlock>
      ) : null}
    </>
  );
}
