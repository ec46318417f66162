// Where a Docker engine is, as every Docker tool reads it: DOCKER_HOST (unix:// or tcp://), else
// the local socket. The options for dockerode's constructor; the agent and the CLI make their
// clients from them.

export type DockerConnection = { socketPath: string } | { host: string; port: number; protocol: 'http' };

export function dockerConnection(env: NodeJS.ProcessEnv = process.env): DockerConnection {
  const host = env.DOCKER_HOST;
  if (!host) return { socketPath: '/var/run/docker.sock' };
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  const u = new URL(host.replace(/^tcp:/, 'http:'));
  return { host: u.hostname, port: Number(u.port || 2375), protocol: 'http' };
}
