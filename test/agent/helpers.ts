// Shared helpers of the agent tests: they run against the real Docker engine (DOCKER_HOST).

import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import Dockerode from 'dockerode';
import pino from 'pino';
import { newId } from '../../common/ids.js';
import { defaultDeploy, type ServiceSpec } from '../../common/spec.js';
import type { NetworkObj, TaskObj, TaskStatus, VolumeObj } from '../../common/api/objects.js';
import { Worker, type WorkerOptions } from '../../agent/worker/index.js';

const PRIVATE_ENGINE = '/run/tsswarm-engine/docker.sock';
if (!process.env.DOCKER_HOST && fs.existsSync(PRIVATE_ENGINE)) process.env.DOCKER_HOST = `unix://${PRIVATE_ENGINE}`;

export const docker = new Dockerode();
export const IMAGE = 'tsswarm/busybox:latest';
export const log = pino({ level: process.env.TSSWARM_TEST_LOG ?? 'silent' });

/** Poll `fn` until it returns a truthy value; throws with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 20_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${String(lastErr)})` : ''}`);
}

/** Every status each task reported, in order. */
export class Recorder {
  readonly all = new Map<string, TaskStatus[]>();
  readonly report = (taskId: string, s: TaskStatus): void => {
    let l = this.all.get(taskId);
    if (!l) this.all.set(taskId, (l = []));
    l.push(s);
  };
  last(taskId: string): TaskStatus | undefined {
    const l = this.all.get(taskId);
    return l?.[l.length - 1];
  }
  states(taskId: string): string[] {
    return (this.all.get(taskId) ?? []).map((s) => s.state);
  }
  waitState(taskId: string, pred: (s: TaskStatus) => boolean, timeoutMs = 20_000): Promise<TaskStatus> {
    return waitFor(`task ${taskId} status (have: ${JSON.stringify(this.last(taskId))})`, () => {
      const s = this.last(taskId);
      return s && pred(s) ? s : undefined;
    }, timeoutMs);
  }
}

export function makeWorker(nodeId: string, rec: Recorder, extra: Partial<WorkerOptions> = {}): Worker {
  return new Worker({ docker, nodeId, log, report: rec.report, resyncIntervalMs: 1_000, ingressBind: '127.0.0.1', ...extra });
}

const meta = () => ({ version: 1, createdAt: Date.now(), updatedAt: Date.now() });

export function makeTask(stack: string, service: string, slot: number, nodeId: string, spec: Partial<ServiceSpec> = {}, extra: Partial<TaskObj> = {}): TaskObj {
  return {
    kind: 'task',
    id: newId(),
    meta: meta(),
    serviceId: `svc-${stack}-${service}`,
    serviceName: `${stack}_${service}`,
    stack,
    slot,
    nodeId,
    specVersion: 1,
    spec: {
      image: IMAGE,
      environment: {},
      labels: {},
      ports: [],
      volumes: [],
      networks: {},
      depends_on: {},
      deploy: defaultDeploy(),
      init: true,
      ...spec,
    },
    desiredState: 'running',
    status: { state: 'assigned', timestamp: Date.now(), message: 'assigned' },
    ...extra,
  };
}

export function makeNetwork(stack: string, key: string): NetworkObj {
  return { kind: 'network', id: newId(), meta: meta(), name: `${stack}_${key}`, stack, spec: { driver: 'overlay', external: false, labels: {}, driver_opts: {} } };
}

export function makeVolume(stack: string, key: string): VolumeObj {
  return { kind: 'volume', id: newId(), meta: meta(), name: `${stack}_${key}`, stack, spec: { driver: 'local', external: false, labels: {}, driver_opts: {} } };
}

export const update = (obj: TaskObj | NetworkObj | VolumeObj) => ({ action: 'update' as const, kind: obj.kind, id: obj.id, obj });
export const remove = (obj: TaskObj | NetworkObj | VolumeObj) => ({ action: 'remove' as const, kind: obj.kind, id: obj.id, obj });

/**
 * A port nobody listens on right now (TCP and UDP, on 0.0.0.0), picked at random in 20000-29999:
 * below the kernel's and the engine's ephemeral ranges, so nothing else grabs it meanwhile.
 */
export async function freePort(): Promise<number> {
  const tcpFree = (port: number) => new Promise<boolean>((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '0.0.0.0', exclusive: true }, () => s.close(() => resolve(true)));
  });
  const udpFree = (port: number) => new Promise<boolean>((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => { s.close(); resolve(false); });
    s.bind({ port, address: '0.0.0.0', exclusive: true }, () => s.close(() => resolve(true)));
  });
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    if (usedPorts.has(port)) continue;
    if (await tcpFree(port) && await udpFree(port)) {
      usedPorts.add(port);
      return port;
    }
  }
}
const usedPorts = new Set<number>();

/** GET without keep-alive (every request is a new TCP connection). */
export function httpGet(port: number, path = '/', host = '127.0.0.1'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, agent: false, timeout: 3_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Containers of a stack (all states). */
export async function stackContainers(stack: string): Promise<Dockerode.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`tsswarm.stack.namespace=${stack}`] } });
}

/** Remove every container, network and volume whose stack label starts with `prefix`. */
export async function cleanup(prefix: string): Promise<void> {
  const mine = (labels?: Record<string, string> | null) => (labels?.['tsswarm.stack.namespace'] ?? '').startsWith(prefix);
  const cs = await docker.listContainers({ all: true, filters: { label: ['tsswarm.stack.namespace'] } });
  await Promise.all(cs.filter((c) => mine(c.Labels)).map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
  const nets = await docker.listNetworks({ filters: { label: ['tsswarm.stack.namespace'] } });
  await Promise.all(nets.filter((n) => mine(n.Labels)).map((n) => docker.getNetwork(n.Id).remove().catch(() => undefined)));
  const vols = await docker.listVolumes({ filters: { label: ['tsswarm.stack.namespace'] } });
  await Promise.all((vols.Volumes ?? []).filter((v) => mine(v.Labels)).map((v) => docker.getVolume(v.Name).remove().catch(() => undefined)));
}

/** A stack name unique to this run, starting with `prefix`. */
export const uniqueStack = (prefix: string): string => `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
