import type { NodeInfo } from '../cluster/node-registry';

/**
 * The gateway nodes as their registrations say (etcd: `<etcd.prefix><id>` on each node's lease).
 * Guarantee: `onChange` receives the whole current list once start() resolves, and again after
 * every registration, load update, state change and lease end, in the order etcd applied them;
 * after a lost connection the watch resumes where it stopped (etcd3 re-creates it), so no change
 * is missed. An entry that is not a node's JSON is skipped.
 */
export abstract class NodeWatch {
  abstract start(onChange: (nodes: NodeInfo[]) => void): Promise<void>;
  abstract stop(): Promise<void>;
}
