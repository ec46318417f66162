// Secrets and configs of a stack, end to end, as a user meets them: one manager process with its
// embedded agent on the real engine, a stack file with a secret from a file and an inline
// config. The container sees the files with the owner and mode asked for; the value is nowhere
// else: not in the engine's definition of the container, the manager's log (debug level), any
// file of its data dir, any API answer, nor a backup (which holds only the sealed form). A
// rotation rolls the service and the old task's file goes; `stack rm` removes the container and
// its files; a service that uses no secret gets no /run/secrets.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerFromEnv } from '../../agent/docker.js';
import { defaultFilesRoot, mountTypeAt } from '../../agent/exec/secrets.js';
import { SEALED_PREFIX } from '../../manager/keys/keyring.js';
import { filesUnder, waitFor } from './harness.js';
import { ManagerProc } from './managers.js';

const STACK = 'e2esecstack';
const PLAIN = 'e2esecplain';
const SECRET = `${STACK}_db_pw`;
const VALUE1 = `S3cr3t-${randomBytes(16).toString('hex')}`;
const VALUE2 = `S3cr3t-${randomBytes(16).toString('hex')}`;
const MOTD = `welcome to ${STACK}\nline two\n`;
const docker: Docker = dockerFromEnv();

/** A value in clear, as base64, or as the URL-safe base64 some encoders write. */
const forms = (v: string): string[] => [v, Buffer.from(v).toString('base64'), Buffer.from(v).toString('base64url')];
const FORBIDDEN = [...forms(VALUE1), ...forms(VALUE2)];

const stackFile = `
services:
  app:
    image: tsswarm/busybox:latest
    command: ["sleep", "100000"]
    init: true
    stop_grace_period: 1s
    deploy:
      update_config: { order: stop-first }
    secrets:
      - source: db_pw
        target: db_password
        uid: "1000"
        gid: "1001"
        mode: 0400
    configs:
      - source: motd
        target: /etc/motd.txt
secrets:
  db_pw:
    file: ./db_pw.txt
configs:
  motd:
    content: |
${MOTD.trimEnd().split('\n').map((l) => `      ${l}`).join('\n')}
`;

const plainFile = `
services:
  plain:
    image: tsswarm/busybox:latest
    command: ["sleep", "100000"]
    init: true
    stop_grace_period: 1s
`;

interface Task { id: string; nodeId?: string; desiredState: string; status: { state: string; containerId?: string; err?: string } }


/** `sh -c script` in a container: its stdout. */
const sh = (cid: string, script: string): string =>
  execFileSync('docker', ['exec', cid, 'sh', '-c', script], { env: process.env, encoding: 'utf8' });

const mountinfo = (): string => readFileSync('/proc/self/mountinfo', 'utf8');

const running = async (stack: string): Promise<Docker.ContainerInfo[]> =>
  docker.listContainers({ filters: { label: [`tsswarm.stack.namespace=${stack}`] } });

describe('a stack with a secret and a config, on one manager with its agent', () => {
  const m = new ManagerProc('secstack');
  // The user's files live outside the data dir (its every file is searched for the value).
  const userDir = mkdtempSync(join(tmpdir(), 'tsswarm-e2e-secstack-'));
  const stackPath = join(userDir, 'stack.yml');
  const valuePath = join(userDir, 'db_pw.txt');
  let root = '';
  /** The first task (revision 1) and its container. */
  let first: { task: Task; cid: string };

  const tasks = async (service: string): Promise<Task[]> => JSON.parse(await m.cliOk('service', 'ps', service, '--format', 'json')) as Task[];
  /** The one running task of a service whose container the engine runs, once there is exactly one. */
  const runningTask = async (service: string, not?: string): Promise<{ task: Task; cid: string }> => waitFor(`a running task of ${service}${not ? ` other than ${not}` : ''}`, async () => {
    const live = (await tasks(service)).filter((t) => t.desiredState === 'running' && t.status.state === 'running' && t.id !== not);
    if (live.length !== 1 || !live[0]!.status.containerId) return undefined;
    const cid = live[0]!.status.containerId;
    const c = (await docker.listContainers({ filters: { id: [cid] } }))[0];
    return c?.State === 'running' ? { task: live[0]!, cid } : undefined;
  }, 90_000, 200);

  /** Every answer of the API a user can ask for, as text. */
  const apiAnswers = async (): Promise<Record<string, string>> => {
    const out: Record<string, string> = {};
    const cli = async (...args: string[]) => { out[`tsswarm ${args.join(' ')}`] = await m.cliOk(...args); };
    await cli('service', 'inspect', `${STACK}_app`);
    await cli('service', 'ls', '--format', 'json');
    await cli('service', 'ps', `${STACK}_app`, '--format', 'json');
    await cli('service', 'ps', `${STACK}_app`, '--no-trunc');
    await cli('stack', 'ls');
    await cli('stack', 'ls', '--format', 'json');
    await cli('stack', 'ps', STACK, '--format', 'json');
    await cli('secret', 'ls');
    await cli('secret', 'ls', '--format', 'json');
    await cli('secret', 'inspect', SECRET);
    await cli('config', 'ls', '--format', 'json');
    await cli('config', 'inspect', `${STACK}_motd`);
    await cli('cluster', 'inspect');
    await cli('node', 'ls', '--format', 'json');
    await cli('node', 'inspect', m.nodeId);
    await cli('deploy', '-c', stackPath, '--dry-run', STACK);
    await cli('deploy', '-c', stackPath, '--dry-run', '--format', 'json', STACK);
    for (const path of ['/v1/info', '/v1/services', `/v1/services?stack=${STACK}`, `/v1/services/${STACK}_app`, '/v1/tasks', '/v1/stacks', '/v1/secrets', `/v1/secrets/${SECRET}`, '/v1/configs', '/v1/nodes', '/v1/cluster', '/v1/cluster/status']) {
      const r = await m.api('GET', path);
      expect(r.status, `GET ${path}`).toBe(200);
      out[`GET ${path}`] = JSON.stringify(r.body);
    }
    return out;
  };

  const expectClean = (what: string, text: string, sealedToo = true): void => {
    for (const v of FORBIDDEN) expect(text.includes(v), `${what} holds ${v}`).toBe(false);
    if (sealedToo) expect(text.includes(SEALED_PREFIX), `${what} holds a sealed value`).toBe(false);
  };

  beforeAll(async () => {
    writeFileSync(stackPath, stackFile);
    writeFileSync(valuePath, VALUE1);
    await m.init('127.0.0.6', [], { agent: true });
    root = defaultFilesRoot(m.nodeId);
    await waitFor('the embedded agent\'s node ready', async () =>
      (JSON.parse(await m.cliOk('node', 'ls', '--format', 'json')) as { status: { state: string } }[]).some((n) => n.status.state === 'ready'), 60_000);
  }, 120_000);

  afterAll(async () => {
    // A graceful stop first: the agent unmounts its tmpfs when no task has files in it.
    await m.stop();
    for (const ns of [STACK, PLAIN]) {
      for (const c of await docker.listContainers({ all: true, filters: { label: [`tsswarm.stack.namespace=${ns}`] } })) {
        await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      }
      for (const n of await docker.listNetworks()) if (n.Name.startsWith(`${ns}_`)) await docker.getNetwork(n.Id).remove().catch(() => undefined);
    }
    // A test that failed half way may leave the tmpfs mounted: its containers are gone now.
    if (root && mountTypeAt(mountinfo(), root) !== undefined) {
      try { execFileSync('umount', [root], { stdio: 'ignore' }); } catch { /* gone meanwhile */ }
    }
    if (root) rmSync(root, { recursive: true, force: true });
    m.remove();
    rmSync(userDir, { recursive: true, force: true });
  });

  it('the container sees the secret and the config with the owner and mode asked for', async () => {
    const out = await m.cliOk('deploy', '-c', stackPath, STACK);
    expect(out).toContain(`Stack ${STACK} converged`);
    first = await runningTask(`${STACK}_app`);
    const { task, cid } = first;
    expect(sh(cid, 'cat /run/secrets/db_password')).toBe(VALUE1);
    expect(sh(cid, 'stat -c "%a %u %g" /run/secrets/db_password').trim()).toBe('400 1000 1001');
    expect(sh(cid, 'cat /etc/motd.txt')).toBe(MOTD);
    expect(sh(cid, 'stat -c "%a %u %g" /etc/motd.txt').trim()).toBe('444 0 0');
    expect(sh(cid, '{ echo x > /run/secrets/db_password; } 2>/dev/null && echo writable || echo read-only').trim()).toBe('read-only');
    // On the node: the task's files on the agent's tmpfs.
    expect(mountTypeAt(mountinfo(), root)).toBe('tmpfs');
    expect(readFileSync(join(root, task.id, 'secrets', '0'), 'utf8')).toBe(VALUE1);
    // The engine holds the file's path, never the value.
    const inspected = execFileSync('docker', ['inspect', cid], { env: process.env, encoding: 'utf8' });
    expectClean('docker inspect', inspected, false);
    expect(inspected).toContain(join(root, task.id, 'secrets', '0'));
  });

  it('no API answer holds the value or its sealed form; the manager\'s log names the secret, never the value', async () => {
    const answers = await apiAnswers();
    for (const [what, text] of Object.entries(answers)) expectClean(what, text);
    // What the answers do show: the references, the metadata, the plan with no change.
    expect(answers[`tsswarm secret inspect ${SECRET}`]).toContain(`"size": ${VALUE1.length}`);
    expect(answers[`tsswarm deploy -c ${stackPath} --dry-run ${STACK}`]).toContain(`unchanged secret ${SECRET}`);
    expect(answers[`tsswarm config inspect ${STACK}_motd`]).toContain(Buffer.from(MOTD).toString('base64'));
    // A dry run with a new value in the file says the secret changes, and shows no value.
    writeFileSync(valuePath, VALUE2);
    try {
      const dry = await m.cliOk('deploy', '-c', stackPath, '--dry-run', STACK);
      expect(dry).toMatch(new RegExp(`update +secret ${SECRET}`));
      expectClean('deploy --dry-run (changed value)', dry);
      const dryJson = await m.cliOk('deploy', '-c', stackPath, '--dry-run', '--format', 'json', STACK);
      expectClean('deploy --dry-run --format json (changed value)', dryJson);
    } finally {
      writeFileSync(valuePath, VALUE1);
    }
    const log = readFileSync(m.logFile, 'utf8');
    expect(log).toMatch(/"level":20/); // debug lines are there: the strictest case
    expect(log).toContain(SECRET);
    expectClean('the manager\'s log', log, false);
  });

  it('a service of another stack that uses no secret has no /run/secrets', async () => {
    const plainPath = join(userDir, 'plain.yml');
    writeFileSync(plainPath, plainFile);
    await m.cliOk('deploy', '-c', plainPath, PLAIN);
    const { cid } = await runningTask(`${PLAIN}_plain`);
    expect(sh(cid, 'test -e /run/secrets && echo present || echo absent').trim()).toBe('absent');
    expect(sh(cid, 'grep -c /run/tsswarm /proc/mounts || true').trim()).toBe('0');
  });

  it('secret update rolls the service: the new container sees the new value, the old task\'s file is gone', async () => {
    const newValue = join(userDir, 'db_pw.next');
    writeFileSync(newValue, VALUE2);
    await m.cliOk('secret', 'update', SECRET, newValue);
    const next = await runningTask(`${STACK}_app`, first.task.id);
    expect(sh(next.cid, 'cat /run/secrets/db_password')).toBe(VALUE2);
    expect(sh(next.cid, 'stat -c "%a %u %g" /run/secrets/db_password').trim()).toBe('400 1000 1001');
    const svc = (JSON.parse(await m.cliOk('service', 'inspect', `${STACK}_app`)) as { spec: { secrets: { id: string; revision: number }[] } }[])[0]!;
    expect(svc.spec.secrets[0]!.revision).toBe(2);
    await waitFor('the old container gone', async () => !(await docker.listContainers({ all: true, filters: { id: [first.cid] } })).length, 30_000);
    await waitFor('the old task\'s files gone from the tmpfs', () => !existsSync(join(root, first.task.id)), 30_000);
    expect(readFileSync(join(root, next.task.id, 'secrets', '0'), 'utf8')).toBe(VALUE2);
    // Still nowhere else.
    for (const [what, text] of Object.entries(await apiAnswers())) expectClean(what, text);
    expectClean('docker inspect', execFileSync('docker', ['inspect', next.cid], { env: process.env, encoding: 'utf8' }), false);
    // A backup carries the secret sealed (a restore opens it with the data key that goes with
    // it), never in clear.
    const backup = join(m.dataDir, 'backup.bin');
    await m.cliOk('cluster', 'backup', backup);
    const bytes = readFileSync(backup).toString('latin1');
    expect(bytes).toContain(SEALED_PREFIX);
    expect(bytes).toContain(svc.spec.secrets[0]!.id);
    expectClean('the backup', bytes, false);
    first = next;
  });

  it('stack rm removes the container and its files; the stack\'s secret and config go', async () => {
    const { task } = first;
    const out = await m.cliOk('stack', 'rm', STACK);
    expect(out).toContain(`Removing secret ${SECRET}`);
    await waitFor('the stack\'s containers gone', async () => (await docker.listContainers({ all: true, filters: { label: [`tsswarm.stack.namespace=${STACK}`] } })).length === 0, 60_000);
    await waitFor('the task\'s files gone from the tmpfs', () => !existsSync(join(root, task.id)), 30_000);
    await waitFor('the secret gone', async () => !(JSON.parse(await m.cliOk('secret', 'ls', '--format', 'json')) as { name: string }[]).some((s) => s.name === SECRET), 30_000);
    expect(JSON.parse(await m.cliOk('config', 'ls', '--format', 'json'))).toEqual([]);
    // The other stack runs on.
    expect(await running(PLAIN)).toHaveLength(1);
  });

  it('no file of the data dir holds a value (its log, its Raft log, the backup)', async () => {
    const files = filesUnder(m.dataDir);
    expect(files).toContain(m.logFile);
    expect(files).toContain(join(m.dataDir, 'backup.bin'));
    expect(files.length).toBeGreaterThan(5);
    for (const p of files) expectClean(p, readFileSync(p).toString('latin1'), false);
  });

  it('the last stack removed, a stopped agent leaves no tmpfs behind', async () => {
    await m.cliOk('stack', 'rm', PLAIN);
    await waitFor('the plain stack\'s containers gone', async () => (await docker.listContainers({ all: true, filters: { label: [`tsswarm.stack.namespace=${PLAIN}`] } })).length === 0, 60_000);
    await m.stop();
    expect(mountTypeAt(mountinfo(), root)).toBeUndefined();
    // The manager's log, whole now that it exited (it writes asynchronously).
    expectClean('the manager\'s log', readFileSync(m.logFile, 'utf8'), false);
  });
});
