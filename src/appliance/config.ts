import { z } from 'zod';
import type { Config } from '../core/config.ts';
import { InputError, showValue } from '../core/errors.ts';

/**
 * The appliance: Steward on three (or five) nodes. Every node's steward.yaml
 * holds the same `appliance.nodes` list and names itself in `appliance.node`;
 * `steward up` then runs this node's part of it (launcher.ts) instead of an
 * embedded PostgreSQL. On three machines the ports can stay at their
 * defaults; three nodes on one machine (tests, a demo) give each node a port
 * set of its own.
 */
const nodeName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/, 'must be a node name: a-z first, then a-z, 0-9 or -, 31 at most');
const port = z.number().int().min(1).max(65535);

export const applianceNodeSchema = z
  .object({
    name: nodeName,
    /** The address the other nodes and clients reach this node at (an IP literal or a host name). */
    host: z
      .string()
      .regex(/^[A-Za-z0-9.:-]{1,253}$/, 'must be an IP address or a host name')
      .default('127.0.0.1'),
    /** Steward's API (HTTPS). */
    apiPort: port.default(8440),
    /** The data plane's HTTPS port: every node serves every tenant. */
    gatewayPort: port.default(8443),
    /** The data plane's redirect-only HTTP port (0: none). */
    gatewayHttpPort: z.number().int().min(0).max(65535).default(0),
    /** This node's etcd member: clients (Patroni) and peers (the other members). */
    etcdClientPort: port.default(2379),
    etcdPeerPort: port.default(2380),
    /** This node's Patroni member of the control database's cluster: its REST API and PostgreSQL. */
    patroniPort: port.default(8008),
    postgresPort: port.default(5432),
    /** This node's database router (HAProxy, TCP): the control database's current primary. */
    routerPort: port.default(5433),
  })
  .strict();

export const applianceSchema = z
  .object({
    /** This node's name: one of nodes[].name. */
    node: nodeName,
    nodes: z.array(applianceNodeSchema).min(3).max(5),
    /** fsync off in the control cluster: for tests only (a machine crash may lose its data). */
    unsafeNoFsync: z.boolean().default(false),
  })
  .strict();

export type ApplianceNode = z.output<typeof applianceNodeSchema>;
export type ApplianceSettings = z.output<typeof applianceSchema>;

/** The Patroni scope of the control database's cluster (its key prefix in etcd). */
export const controlScope = 'steward-control';

const portFields = [
  'apiPort',
  'gatewayPort',
  'gatewayHttpPort',
  'etcdClientPort',
  'etcdPeerPort',
  'patroniPort',
  'postgresPort',
  'routerPort',
] as const;

/**
 * What zod cannot see: an odd number of nodes (etcd and Patroni need a
 * majority, and an even count adds a node without adding a loss it survives),
 * unique names, this node among them, and no port used twice on one host.
 */
export function checkAppliance(appliance: ApplianceSettings): ApplianceSettings {
  const field = 'appliance.nodes';
  if (appliance.nodes.length % 2 === 0) {
    throw new InputError(
      `config field ${field}: ${appliance.nodes.length} nodes is not accepted: use 3 or 5 (a majority must survive a node loss)`,
      { field },
    );
  }
  const names = new Set<string>();
  const taken = new Map<string, string>();
  appliance.nodes.forEach((node, index) => {
    if (names.has(node.name)) {
      throw new InputError(
        `config field ${field}.${index}.name: ${showValue(node.name)} is named twice; each node needs a name of its own`,
        { field: `${field}.${index}.name` },
      );
    }
    names.add(node.name);
    for (const key of portFields) {
      const value = node[key];
      if (value === 0) continue;
      const where = `${node.host}:${value}`;
      const other = taken.get(where);
      if (other !== undefined) {
        throw new InputError(
          `config field ${field}.${index}.${key}: ${value} on ${showValue(node.host)} is already ${other}; every port on one host must differ`,
          { field: `${field}.${index}.${key}` },
        );
      }
      taken.set(where, `${node.name}'s ${key}`);
    }
  });
  if (!names.has(appliance.node)) {
    throw new InputError(
      `config field appliance.node: ${showValue(appliance.node)} is not one of the nodes (${[...names].join(', ')})`,
      { field: 'appliance.node' },
    );
  }
  return appliance;
}

/** This node's entry (checkAppliance made sure there is one). */
export function thisNode(appliance: ApplianceSettings): ApplianceNode {
  const node = appliance.nodes.find((n) => n.name === appliance.node);
  if (!node) throw new InputError(`appliance.node ${showValue(appliance.node)} is not one of the nodes`);
  return node;
}

/**
 * The config this node runs with: its API and gateway ports are its entry's
 * (the API listens on the node's address, where the other nodes and clients
 * reach it).
 */
export function nodeConfig(config: Config): Config {
  if (!config.appliance) return config;
  const node = thisNode(config.appliance);
  return {
    ...config,
    api: { ...config.api, host: node.host, port: node.apiPort },
    gateway: { ...config.gateway, port: node.gatewayPort, httpPort: node.gatewayHttpPort },
    // The node's name in `steward node list` and on its leases is its appliance name.
    node: { ...config.node, name: node.name },
    // The ha stages' clusters use the appliance's etcd (Steward would otherwise run one of its own).
    ha: {
      ...config.ha,
      etcd:
        config.ha.etcd ??
        config.appliance.nodes.map(
          (n) => `http://${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.etcdClientPort}`,
        ),
    },
  };
}
