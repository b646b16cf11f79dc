import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMember } from '../../../src/databases/patroni/index.ts';
import { postgresRunAs } from '../../../src/system/exec.ts';
import { patroniAvailable, startTestCluster, type TestHaCluster } from '../../harness/patroni.ts';

/** The process layer on a real three-member cluster (fsync off), shared by the file. */
describe.skipIf(!patroniAvailable)('a Patroni cluster (process layer)', () => {
  let cluster: TestHaCluster;
  beforeAll(async () => {
    cluster = await startTestCluster({ synchronous: true });
    await cluster.waitForLeader();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('comes up with a leader, a synchronous standby and a replica', async () => {
    const status = await cluster.rest.cluster();
    expect(status.members.map((m) => m.role).sort()).toEqual(['leader', 'replica', 'sync_standby']);
  });

  it('refuses unsafe REST calls without the password', async () => {
    const leader = cluster.member((await cluster.rest.leader())!);
    const response = await fetch(`http://${leader.host}:${leader.restPort}/switchover`, {
      method: 'POST',
      body: JSON.stringify({ leader: leader.name }),
    });
    expect(response.status).toBe(401);
    expect(await cluster.rest.leader()).toBe(leader.name);
  });

  it('adopts a running member instead of starting a second one', async () => {
    const member = cluster.members[0]!;
    const first = await startMember(member, postgresRunAs());
    expect(first.adopted).toBe(true);
  });
});
