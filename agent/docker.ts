import Docker from 'dockerode';
import { hostname } from 'node:os';
import type { NodeDescription } from '../proto/gen/tsswarm/dispatcher/v1/NodeDescription.js';
import { dockerConnection } from '../common/docker-host.js';

/** A client for the engine named by DOCKER_HOST (unix://, tcp://), as every Docker tool does. */
export function dockerFromEnv(env: NodeJS.ProcessEnv = process.env): Docker {
  return new Docker(dockerConnection(env));
}

export async function describeNode(docker: Docker, addr = ''): Promise<NodeDescription> {
  const info = await docker.info();
  const labels: Record<string, string> = {};
  for (const l of (info.Labels ?? []) as string[]) {
    const i = l.indexOf('=');
    if (i > 0) labels[l.slice(0, i)] = l.slice(i + 1);
  }
  return {
    hostname: hostname(),
    os: info.OSType ?? 'linux',
    arch: info.Architecture ?? process.arch,
    nano_cpus: (info.NCPU ?? 1) * 1e9,
    memory_bytes: info.MemTotal ?? 0,
    engine_version: info.ServerVersion ?? '',
    engine_labels: labels,
    addr,
    runtimes: Object.keys((info as { Runtimes?: Record<string, unknown> }).Runtimes ?? {}).sort(),
  };
}
