import { describe, expect, it } from 'vitest';
import { parseShowProc } from '../../src/dataplane/haproxy.ts';
import { parseServersState, parseShowMap, parseStat } from '../../src/dataplane/runtime-api.ts';

/** The runtime API's answers as HAProxy 2.6 writes them. */
describe('runtime API answers', () => {
  it('reads show proc: the master with its reload counts, current and old workers', () => {
    const text = [
      '#<PID>          <type>          <reloads>       <uptime>        <version>',
      '1162            master          5 [failed: 1]   0d00h02m07s     2.6.12-1+deb12u4',
      '# workers',
      '1271            worker          0               0d00h00m00s     2.6.12-1+deb12u4',
      '# old workers',
      '1233            worker          3               0d00h00m43s     2.6.12-1+deb12u4',
      '# programs',
      '',
    ].join('\n');
    expect(parseShowProc(text)).toEqual({
      master: { pid: 1162, reloads: 5, failedReloads: 1 },
      workers: [{ pid: 1271, reloads: 0 }],
      oldWorkers: [{ pid: 1233, reloads: 3 }],
    });
    expect(() => parseShowProc('Unknown command.\n')).toThrow(/no master/);
  });

  it('reads show map and show servers state', () => {
    expect(parseShowMap('0x55d1 acme.test st_acme\n0x55d2 b.test st_b\n\n')).toEqual([
      { key: 'acme.test', value: 'st_acme' },
      { key: 'b.test', value: 'st_b' },
    ]);
    const state = [
      '1',
      '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port',
      '5 st_acme 2 web-2 127.0.0.1 2 0 1 1 3 1 0 0 0 0 0 0 - 41234 - 0 0 - - 0',
      '',
    ].join('\n');
    expect(parseServersState(state)).toEqual([
      {
        backend: 'st_acme',
        server: 'web-2',
        address: '127.0.0.1',
        port: 41_234,
        operationalState: 2,
        adminState: 0,
        weight: 1,
      },
    ]);
    expect(() => parseServersState('No such backend.\n')).toThrow(/show servers state/);
    const stat = parseStat('# pxname,svname,qcur,qmax,scur,lastsess,\nst_acme,BACKEND,0,0,2,7,\n\n');
    expect(stat).toEqual([
      {
        proxy: 'st_acme',
        name: 'BACKEND',
        fields: { pxname: 'st_acme', svname: 'BACKEND', qcur: '0', qmax: '0', scur: '2', lastsess: '7' },
      },
    ]);
    expect(() => parseStat('No such proxy.\n')).toThrow(/show stat/);
  });
});
