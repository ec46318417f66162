// The agent's secret and config files without an engine: which file goes where (pure), the
// mount table check, the assignment bookkeeping of values, and the file layout written into a
// temp dir standing in for the tmpfs.

import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultDeploy, type ObjectRef } from '../../../common/spec.js';
import type { TaskObj } from '../../../common/api/objects.js';
import {
  SecretFiles, containerTarget, fileMounts, mountTypeAt, parseFileDoc, planTaskFiles, type FileDoc, type TmpfsOps,
} from '../../../agent/exec/secrets.js';
import { Assignments } from '../../../agent/worker/assignments.js';
import { AgentErrorCodes, TaskError } from '../../../agent/errors.js';

const meta = { version: 1, createdAt: 0, updatedAt: 0 };
const task = (id: string, secrets: ObjectRef[] = [], configs: ObjectRef[] = []): TaskObj => ({
  kind: 'task', id, meta, serviceId: 's', serviceName: 'st_web', stack: 'st', slot: 1, nodeId: 'n', specVersion: 1,
  spec: { image: 'busybox', environment: {}, labels: {}, ports: [], volumes: [], networks: {}, depends_on: {}, deploy: defaultDeploy(), secrets, configs },
  desiredState: 'running', status: { state: 'assigned', timestamp: 0, message: '' },
});
const ref = (source: string, id: string | undefined, target: string, extra: Partial<ObjectRef> = {}): ObjectRef =>
  ({ source, target, uid: '0', gid: '0', mode: 0o444, ...(id ? { id } : {}), ...extra });
const doc = (id: string, name: string, value: string, revision = 1): FileDoc => ({ id, name, revision, data: Buffer.from(value).toString('base64') });
const held = (secrets: FileDoc[] = [], configs: FileDoc[] = []) => ({ secret: new Map(secrets.map((d) => [d.id, d])), config: new Map(configs.map((d) => [d.id, d])) });

describe('containerTarget', () => {
  it('puts a secret\'s file name under /run/secrets and keeps absolute paths; refuses what is not a path', () => {
    expect(containerTarget('secret', 'db_pw')).toBe('/run/secrets/db_pw');
    expect(containerTarget('secret', 'sub/db_pw')).toBe('/run/secrets/sub/db_pw');
    expect(containerTarget('secret', '/etc/pw')).toBe('/etc/pw');
    expect(containerTarget('config', '/etc/app//app.conf')).toBe('/etc/app/app.conf');
    expect(containerTarget('config', 'app.conf')).toBe('/app.conf');
    for (const bad of ['', '/', '../x', '/etc/../x', 'a\0b']) expect(containerTarget('secret', bad)).toBeUndefined();
  });
});

describe('planTaskFiles', () => {
  const root = '/run/tsswarm/n1';
  it('lays out one file per reference under <root>/<task>/{secrets,configs}/<n>, with the owner and mode asked for', () => {
    const t = task('t1',
      [ref('st_db_pw', 's1', 'db_pw', { uid: '1000', gid: '1001', mode: 0o440 }), ref('st_db_pw', 's1', '/etc/pw_copy')],
      [ref('st_app', 'c1', '/etc/app.conf')]);
    const p = planTaskFiles(root, t, held([doc('s1', 'st_db_pw', 'pw')], [doc('c1', 'st_app', 'conf')]));
    expect(p).toEqual({
      files: [
        { kind: 'secret', id: 's1', name: 'st_db_pw', hostPath: `${root}/t1/secrets/0`, target: '/run/secrets/db_pw', uid: 1000, gid: 1001, mode: 0o440 },
        { kind: 'secret', id: 's1', name: 'st_db_pw', hostPath: `${root}/t1/secrets/1`, target: '/etc/pw_copy', uid: 0, gid: 0, mode: 0o444 },
        { kind: 'config', id: 'c1', name: 'st_app', hostPath: `${root}/t1/configs/0`, target: '/etc/app.conf', uid: 0, gid: 0, mode: 0o444 },
      ],
    });
    expect(fileMounts((p as { files: never[] }).files)).toEqual([
      { type: 'bind', source: `${root}/t1/secrets/0`, target: '/run/secrets/db_pw', readOnly: true },
      { type: 'bind', source: `${root}/t1/secrets/1`, target: '/etc/pw_copy', readOnly: true },
      { type: 'bind', source: `${root}/t1/configs/0`, target: '/etc/app.conf', readOnly: true },
    ]);
  });

  it('fails a task whose secret or config this node was not given, naming it; waits for a newer revision it names', () => {
    const s = doc('s1', 'st_db_pw', 'pw', 2);
    expect(planTaskFiles(root, task('t1', [ref('st_db_pw', 'nope', 'x')]), held([s]))).toEqual({
      error: { err: 'secret st_db_pw is not available on this node: it is not in the node\'s assignment set', errCode: AgentErrorCodes.SECRET_UNAVAILABLE },
    });
    expect(planTaskFiles(root, task('t1', [ref('st_db_pw', undefined, 'x')]), held([s]))).toMatchObject({ error: { errCode: AgentErrorCodes.SECRET_UNAVAILABLE } });
    expect(planTaskFiles(root, task('t1', [], [ref('st_app', 'c9', '/a')]), held())).toMatchObject({ error: { err: expect.stringContaining('config st_app'), errCode: AgentErrorCodes.CONFIG_UNAVAILABLE } });
    // The manager could not open it: its reason, as sent.
    const unopened: FileDoc = { id: 's1', name: 'st_db_pw', revision: 1, error: 'secret st_db_pw cannot be opened with the cluster\'s key' };
    expect(planTaskFiles(root, task('t1', [ref('st_db_pw', 's1', 'x')]), held([unopened]))).toEqual({ error: { err: unopened.error, errCode: AgentErrorCodes.SECRET_UNAVAILABLE } });
    // Revisions: older than named waits; as new or newer goes.
    expect(planTaskFiles(root, task('t1', [ref('st_db_pw', 's1', 'x', { revision: 3 })]), held([s]))).toEqual({ wait: 'waiting for secret st_db_pw (revision 3)' });
    expect(planTaskFiles(root, task('t1', [ref('st_db_pw', 's1', 'x', { revision: 2 })]), held([s]))).toHaveProperty('files');
    expect(planTaskFiles(root, task('t1', [ref('st_db_pw', 's1', 'x', { revision: 1 })]), held([s]))).toHaveProperty('files');
  });

  it('refuses a bad target, owner or mode, naming the reference', () => {
    const s = [doc('s1', 'st_db_pw', 'pw')];
    const bad = (r: ObjectRef, rx: RegExp) => expect(planTaskFiles(root, task('t1', [r]), held(s))).toMatchObject({ error: { err: expect.stringMatching(rx), errCode: AgentErrorCodes.MOUNT_INVALID } });
    bad(ref('st_db_pw', 's1', '../../etc/passwd'), /^secrets\[0\] \(secret st_db_pw\): target/);
    bad(ref('st_db_pw', 's1', 'x', { uid: 'root' }), /uid "root" is not a number/);
    bad(ref('st_db_pw', 's1', 'x', { gid: '-1' }), /gid "-1" is not a number/);
    bad(ref('st_db_pw', 's1', 'x', { mode: 0o4755 }), /mode 2541 is not a file mode/);
    // Owner and mode left out: root, 0444.
    const loose = { source: 'st_db_pw', id: 's1', target: 'x' } as ObjectRef;
    expect(planTaskFiles(root, task('t1', [loose]), held(s))).toMatchObject({ files: [{ uid: 0, gid: 0, mode: 0o444 }] });
    expect(planTaskFiles(root, task('t1', [ref('st_db_pw', 's1', 'x'), ref('st_db_pw', 's1', '/run/secrets/x')]), held(s)))
      .toMatchObject({ error: { err: expect.stringContaining('target /run/secrets/x is used twice') } });
    expect(planTaskFiles(root, task('../t1', [ref('st_db_pw', 's1', 'x')]), held(s))).toMatchObject({ error: { errCode: AgentErrorCodes.MOUNT_INVALID } });
  });
});

describe('parseFileDoc', () => {
  it('keeps a well-formed value, an error as sent, and turns anything else into an error', () => {
    expect(parseFileDoc('secret', 's1', { id: 's1', name: 'n', revision: 2, data: 'aGk=' })).toEqual({ id: 's1', name: 'n', revision: 2, data: 'aGk=' });
    expect(parseFileDoc('secret', 's1', { name: 'n', revision: 1, error: 'no key' })).toEqual({ id: 's1', name: 'n', revision: 1, error: 'no key' });
    expect(parseFileDoc('config', 'c1', { name: 'n', revision: 1, data: 'not base64!' })).toMatchObject({ error: 'the manager sent config n without a well-formed value' });
    expect(parseFileDoc('config', 'c1', undefined)).toMatchObject({ name: 'c1', revision: 0, error: expect.any(String) });
  });
});

describe('mountTypeAt', () => {
  const info = [
    '22 1 0:21 / / rw,relatime - overlay overlay rw',
    '45 22 0:40 / /run/tsswarm/n1 rw,relatime - tmpfs tsswarm-secrets rw,size=65536k,mode=700',
    '46 22 0:41 / /run/tsswarm/with\\040space rw - tmpfs tmpfs rw',
    '47 22 8:1 / /run/tsswarm/n2 rw shared:1 - ext4 /dev/sda1 rw',
    '48 47 0:42 / /run/tsswarm/n2 rw - tmpfs tmpfs rw',
  ].join('\n');
  it('reads the type of what is mounted at a path (the last mount there), unescaping the mount point', () => {
    expect(mountTypeAt(info, '/run/tsswarm/n1')).toBe('tmpfs');
    expect(mountTypeAt(info, '/run/tsswarm/with space')).toBe('tmpfs');
    expect(mountTypeAt(info, '/run/tsswarm/n2')).toBe('tmpfs');
    expect(mountTypeAt(info, '/')).toBe('overlay');
    expect(mountTypeAt(info, '/run/tsswarm')).toBeUndefined();
  });
});

describe('Assignments: secrets and configs', () => {
  it('keeps values by id, replaces a new revision, drops what is removed or missing from a full set, and says when files changed', () => {
    const a = new Assignments();
    const up = (kind: 'secret' | 'config', d: FileDoc) => ({ action: 'update' as const, kind, id: d.id, obj: d });
    let r = a.apply(false, [up('secret', doc('s1', 'a', 'one')), up('config', doc('c1', 'b', 'conf'))], () => undefined);
    expect(r.filesChanged).toBe(true);
    expect(a.files.secret.get('s1')).toEqual(doc('s1', 'a', 'one'));
    r = a.apply(false, [up('secret', doc('s1', 'a', 'two', 2))], () => undefined);
    expect(a.files.secret.get('s1')?.revision).toBe(2);
    r = a.apply(false, [{ action: 'remove', kind: 'config', id: 'c1' }], () => undefined);
    expect(r.filesChanged).toBe(true);
    expect(a.apply(false, [], () => undefined).filesChanged).toBe(false);
    expect(a.files.config.size).toBe(0);
    a.apply(false, [up('secret', doc('s2', 'c', 'three'))], () => undefined);
    r = a.apply(true, [up('secret', doc('s2', 'c', 'three'))], () => undefined);
    expect([...a.files.secret.keys()]).toEqual(['s2']);
    expect(r.touched.size).toBe(0);
  });
});

// Files are chowned as the service asks: that takes root, as the agent runs.
describe.skipIf(process.getuid?.() !== 0)('SecretFiles on a temp dir standing in for the tmpfs', () => {
  const dirs: string[] = [];
  afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

  function setup(mounted = true) {
    const root = mkdtempSync(join(tmpdir(), 'tsswarm-files-'));
    dirs.push(root);
    const lines: string[] = [];
    const log = pino({ level: 'trace' }, new Writable({ write(c, _e, cb) { lines.push(String(c)); cb(); } }));
    const calls: string[] = [];
    const state = { mounted };
    const ops: TmpfsOps = {
      mountinfo: async () => (state.mounted ? `45 22 0:40 / ${root} rw - tmpfs tsswarm-secrets rw,mode=700\n` : `22 1 0:21 / / rw - ext4 /dev/sda1 rw\n`),
      mount: async (d) => { calls.push(`mount ${d}`); state.mounted = true; },
      umount: async (d) => { calls.push(`umount ${d}`); state.mounted = false; },
    };
    return { root, files: new SecretFiles(root, log, ops), lines, calls, state };
  }

  it('writes each file with its owner and mode, private dirs, and removes a task\'s files', async () => {
    const { root, files, lines } = setup();
    const t = task('t1', [ref('st_db_pw', 's1', 'db_pw', { uid: '1000', gid: '1001', mode: 0o440 })], [ref('st_app', 'c1', '/etc/app.conf')]);
    const plan = planTaskFiles(root, t, held([doc('s1', 'st_db_pw', 'pa55')], [doc('c1', 'st_app', 'conf')]));
    if (!('files' in plan)) throw new Error(JSON.stringify(plan));
    const values = new Map([[`${root}/t1/secrets/0`, 'pa55'], [`${root}/t1/configs/0`, 'conf']]);
    await files.write('t1', plan.files, (f) => Buffer.from(values.get(f.hostPath)!));
    expect(readFileSync(`${root}/t1/secrets/0`, 'utf8')).toBe('pa55');
    expect(readFileSync(`${root}/t1/configs/0`, 'utf8')).toBe('conf');
    const st = statSync(`${root}/t1/secrets/0`);
    expect([st.mode & 0o777, st.uid, st.gid]).toEqual([0o440, 1000, 1001]);
    expect(statSync(`${root}/t1/configs/0`).mode & 0o777).toBe(0o444);
    expect(statSync(`${root}/t1`).mode & 0o777).toBe(0o700);
    expect(statSync(`${root}/t1/secrets`).mode & 0o777).toBe(0o700);
    expect(await files.tasks()).toEqual(['t1']);
    expect(lines.join('')).not.toContain('pa55');
    expect(lines.join('')).toContain('st_db_pw');

    await files.removeTask('t1');
    expect(existsSync(`${root}/t1`)).toBe(false);
  });

  it('refuses to write where no tmpfs is, and says why: nothing is written', async () => {
    const { root, state } = setup(false);
    // A mount that does not take (or a filesystem of another type there): never written to.
    const failing = new SecretFiles(root, pino({ level: 'silent' }), {
      mountinfo: async () => `47 22 8:1 / ${root} rw - ext4 /dev/sda1 rw\n`,
      mount: async () => { throw new Error('should not mount over another filesystem'); },
      umount: async () => undefined,
    });
    const f = [{ kind: 'secret' as const, id: 's1', name: 'st_db_pw', hostPath: `${root}/t1/secrets/0`, target: '/run/secrets/x', uid: 0, gid: 0, mode: 0o400 }];
    const err = await failing.write('t1', f, () => Buffer.from('v')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect(err).toMatchObject({ code: AgentErrorCodes.SECRETS_TMPFS_UNAVAILABLE, message: expect.stringContaining(`${root} is a ext4 mount, not a tmpfs`) });
    expect(readdirSync(root)).toEqual([]);

    const refusing = new SecretFiles(root, pino({ level: 'silent' }), {
      mountinfo: async () => '',
      mount: async () => { throw Object.assign(new Error('Command failed: mount'), { stderr: 'mount: only root can use "--types" option\n' }); },
      umount: async () => undefined,
    });
    const err2 = await refusing.write('t1', f, () => Buffer.from('v')).catch((e: unknown) => e);
    expect(err2).toMatchObject({ code: AgentErrorCodes.SECRETS_TMPFS_UNAVAILABLE, message: expect.stringContaining('mounting a tmpfs failed: mount: only root can use') });
    expect(readdirSync(root)).toEqual([]);
    expect(state.mounted).toBe(false);
  });

  it('mounts when needed, sweeps the files of tasks no longer here, and unmounts on close only when no task has files', async () => {
    const { root, files, calls } = setup(false);
    const f = (id: string) => [{ kind: 'secret' as const, id: 's1', name: 'a', hostPath: `${root}/${id}/secrets/0`, target: '/run/secrets/a', uid: 0, gid: 0, mode: 0o400 }];
    await Promise.all([files.write('t1', f('t1'), () => Buffer.from('1')), files.write('t2', f('t2'), () => Buffer.from('2'))]);
    expect(calls).toEqual([`mount ${root}`]); // once, however many tasks ask at a time
    await files.sweep((id) => id === 't2');
    expect(readdirSync(root)).toEqual(['t2']);
    await files.close();
    expect(calls).toEqual([`mount ${root}`]); // t2's container still uses it
    await files.removeTask('t2');
    await files.close();
    expect(calls).toEqual([`mount ${root}`, `umount ${root}`]);
  });
});
