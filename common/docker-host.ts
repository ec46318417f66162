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

/** What an engine's error says, without dockerode's "(HTTP code 500) server error - " prefix. */
export function engineErrorText(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  const raw = e?.json?.message ?? e?.message ?? String(err);
  return raw.replace(/^\(HTTP code \d+\)\s*[a-z ]*-\s*/i, '').trim();
}
