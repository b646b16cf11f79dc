import { fileURLToPath } from 'node:url';
import { systemPrincipal } from './core/policy.ts';
import type { Services } from './services.ts';
import { packDirectory } from './system/pack.ts';

export const demoTenant = 'demo';
export const demoStages = ['dev', 'test', 'prod'] as const;
export const sampleAppDir = fileURLToPath(new URL('../examples/ledger', import.meta.url));

export interface DemoResult {
  readonly tenant: string;
  readonly release: string;
  readonly urls: Readonly<Record<string, string>>;
}

/**
 * The demo of a first start: the sample app registered as release 1.0.0 and
 * tenant `demo` running it in dev, test and prod. Safe to run again: each
 * step skips what already exists.
 */
export async function setUpDemo(
  services: Services,
  progress: (message: string) => void,
): Promise<DemoResult> {
  const version = '1.0.0';
  progress('demo: registering the sample app (examples/ledger) as release 1.0.0');
  await services.releases.add(await packDirectory(sampleAppDir), version, systemPrincipal);
  const existing = await services.tenants.show(demoTenant).catch(() => undefined);
  if (!existing) {
    progress('demo: creating tenant demo with stages dev, test, prod');
    await services.tenants.create(
      { slug: demoTenant, displayName: 'Demo GmbH', tier: 'shared', contacts: [], stages: [...demoStages] },
      systemPrincipal,
    );
  }
  await waitFor(
    async () => (await services.tenants.show(demoTenant)).phase === 'ready',
    120_000,
    'the demo stages',
  );
  for (const stage of demoStages) {
    const active = await services.deployments.active(demoTenant, stage);
    if (active?.version === version) continue;
    progress(`demo: deploying ${version} to ${stage}`);
    const deployment = await services.deployments.deploy(demoTenant, stage, version, systemPrincipal);
    await waitFor(
      async () => {
        const now = await services.deployments.get(deployment.id);
        if (now.status === 'failed') throw new Error(`the demo deployment to ${stage} failed: ${now.reason}`);
        return now.status === 'active';
      },
      180_000,
      `the demo deployment to ${stage}`,
    );
  }
  const urls: Record<string, string> = {};
  for (const view of await services.runtimeView.ps(demoTenant)) if (view.url) urls[view.stage] = view.url;
  return { tenant: demoTenant, release: version, urls };
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not finish within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
