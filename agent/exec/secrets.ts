// Secrets and configs on this node: where a task's files go, and the tmpfs that holds them.
//
// Values arrive over the session and stay in the agent's memory; the only place they are
// written is a tmpfs the agent mounts at /run/tsswarm/<nodeId> (mode 0700): per task,
// <root>/<taskId>/secrets/<n> and <root>/<taskId>/configs/<n>, owned and moded as the service
// asks, bind-mounted read-only into the task's container. If that tmpfs cannot be mounted (or
// is not a tmpfs) a task that needs a file is rejected: nothing is ever written to a path
// backed by a disk. Log lines name the secret and the task, never the value.
//
// The planning (which file, where, with what owner) is pure; SecretFiles does the I/O.

import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import type { ObjectRef } from '../../common/spec.js';
import type { TaskObj } from '../../common/api/objects.js';
import { AgentErrorCodes, TaskError, type AgentErrorCode } from '../errors.js';
import type { ResolvedMount } from './container.js';

export type FileKind = 'secret' | 'config';

/** A secret or config as the manager sends it (proto/dispatcher.proto, Assignment.object_json). */
export interface FileDoc {
  id: string;
  name: string;
  revision: number;
  /** The value, base64; absent when `error` says why the manager could not send it. */
  data?: string;
  error?: string;
}

/** Where the agent keeps a node's files by default (a tmpfs it mounts). */
export const defaultFilesRoot = (nodeId: string): string => `/run/tsswarm/${nodeId}`;
/** Where a secret whose target is a bare file name lands in the container (as Swarm's). */
export const SECRETS_DIR = '/run/secrets';
/** Size of the tmpfs: it holds every file of every task on the node. */
export const TMPFS_OPTIONS = 'mode=0700,size=64m';

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** A document from the session, checked (a malformed one holds an error instead of a value). */
export function parseFileDoc(kind: FileKind, id: string, raw: unknown): FileDoc {
  const o = (raw ?? {}) as Record<string, unknown>;
  const name = typeof o.name === 'string' && o.name.length > 0 ? o.name : id;
  const revision = typeof o.revision === 'number' && Number.isSafeInteger(o.revision) ? o.revision : 0;
  if (typeof o.error === 'string' && o.error.length > 0) return { id, name, revision, error: o.error.slice(0, 1024) };
  if (typeof o.data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(o.data)) {
    return { id, name, revision, error: `the manager sent ${kind} ${name} without a well-formed value` };
  }
  return { id, name, revision, data: o.data };
}

/** One file of a task: where it is written on the node and where the container sees it. */
export interface PlannedFile {
  kind: FileKind;
  /** The secret's or config's id and name. */
  id: string;
  name: string;
  hostPath: string;
  target: string;
  uid: number;
  gid: number;
  mode: number;
}

export type FilePlan =
  | { files: PlannedFile[] }
  /** A value this task needs is older than the revision it names: wait for the new one. */
  | { wait: string }
  | { error: { err: string; errCode: AgentErrorCode } };

const refsOf = (t: TaskObj): { kind: FileKind; refs: ObjectRef[] }[] => [
  { kind: 'secret', refs: t.spec.secrets ?? [] },
  { kind: 'config', refs: t.spec.configs ?? [] },
];

/** Does the task use secrets or configs? */
export const usesFiles = (t: TaskObj): boolean => refsOf(t).some((r) => r.refs.length > 0);

/**
 * Where a reference is seen in the container: a secret's relative target under /run/secrets/,
 * anything else as an absolute path. Undefined: not a usable path ("..", NUL, empty).
 */
export function containerTarget(kind: FileKind, target: string): string | undefined {
  if (!target || target.includes('\0') || target.split('/').includes('..')) return undefined;
  const abs = target.startsWith('/') ? target : kind === 'secret' ? `${SECRETS_DIR}/${target}` : `/${target}`;
  const n = posix.normalize(abs).replace(/\/+$/, '');
  return n === '' || n === '/' ? undefined : n;
}

const ID_NUMBER = /^\d{1,10}$/;
export const DEFAULT_FILE_MODE = 0o444;

/**
 * The files a task needs, from its references and the values this node holds (pure). A
 * reference to something this node was not given fails the task, naming it; one whose value
 * is older than the revision the task names waits for it.
 */
export function planTaskFiles(root: string, t: TaskObj, held: Record<FileKind, ReadonlyMap<string, FileDoc>>): FilePlan {
  const files: PlannedFile[] = [];
  if (!SAFE_NAME.test(t.id)) return { error: { err: `task id ${JSON.stringify(t.id.slice(0, 64))} cannot name a directory`, errCode: AgentErrorCodes.MOUNT_INVALID } };
  const targets = new Set<string>();
  for (const { kind, refs } of refsOf(t)) {
    const code = kind === 'secret' ? AgentErrorCodes.SECRET_UNAVAILABLE : AgentErrorCodes.CONFIG_UNAVAILABLE;
    for (const [i, ref] of refs.entries()) {
      const field = `${kind}s[${i}]`;
      const bad = (what: string) => ({ error: { err: `${field} (${kind} ${ref.source}): ${what}`, errCode: AgentErrorCodes.MOUNT_INVALID } });
      const doc = ref.id === undefined ? undefined : held[kind].get(ref.id);
      if (!doc) return { error: { err: `${kind} ${ref.source} is not available on this node: it is not in the node's assignment set`, errCode: code } };
      if (doc.error) return { error: { err: doc.error, errCode: code } };
      if (ref.revision !== undefined && doc.revision < ref.revision) return { wait: `waiting for ${kind} ${ref.source} (revision ${ref.revision})` };
      const target = containerTarget(kind, ref.target);
      if (!target) return bad(`target ${JSON.stringify(ref.target)} is not a usable path`);
      if (targets.has(target)) return bad(`target ${target} is used twice`);
      targets.add(target);
      // Absent owner and mode: as Swarm's defaults (root, 0444).
      const uid = ref.uid ?? '0';
      const gid = ref.gid ?? '0';
      const mode = ref.mode ?? DEFAULT_FILE_MODE;
      if (!ID_NUMBER.test(uid)) return bad(`uid ${JSON.stringify(uid)} is not a number`);
      if (!ID_NUMBER.test(gid)) return bad(`gid ${JSON.stringify(gid)} is not a number`);
      if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) return bad(`mode ${mode} is not a file mode (0 to 0777)`);
      files.push({
        kind, id: doc.id, name: doc.name, target,
        hostPath: join(root, t.id, `${kind}s`, String(i)),
        uid: Number(uid), gid: Number(gid), mode,
      });
    }
  }
  return { files };
}

/** The read-only bind mounts of a task's files. */
export const fileMounts = (files: PlannedFile[]): ResolvedMount[] =>
  files.map((f) => ({ type: 'bind', source: f.hostPath, target: f.target, readOnly: true }));

/** The filesystem type mounted at `path` (the last mount there wins), from /proc/self/mountinfo. */
export function mountTypeAt(mountinfo: string, path: string): string | undefined {
  let type: string | undefined;
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const mountPoint = line.slice(0, sep).split(' ')[4];
    if (mountPoint === undefined || unescapeMount(mountPoint) !== path) continue;
    type = line.slice(sep + 3).split(' ')[0];
  }
  return type;
}

const unescapeMount = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** What SecretFiles needs of the system: tests stand a temp dir in for the tmpfs. */
export interface TmpfsOps {
  mountinfo(): Promise<string>;
  mount(dir: string): Promise<void>;
  umount(dir: string): Promise<void>;
}

const run = promisify(execFile);

export const systemTmpfs: TmpfsOps = {
  mountinfo: () => readFile('/proc/self/mountinfo', 'utf8'),
  async mount(dir) {
    if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('the agent does not run as root, so it cannot mount a tmpfs');
    // The mount point itself holds nothing: only the tmpfs over it ever does.
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await run('mount', ['-t', 'tmpfs', '-o', TMPFS_OPTIONS, 'tsswarm-secrets', dir]);
  },
  async umount(dir) { await run('umount', [dir]); },
};

const tmpfsError = (root: string, why: string): TaskError =>
  new TaskError(AgentErrorCodes.SECRETS_TMPFS_UNAVAILABLE, `cannot keep secrets and configs on this node: ${why} (they are only ever written to a tmpfs at ${root})`);

const why = (err: unknown): string => {
  const e = err as { stderr?: string; message?: string; code?: string };
  return (e.stderr?.trim() || e.message || String(err)).split('\n')[0];
};

/** The tmpfs of a node's files and the files of each task in it. */
export class SecretFiles {
  private ensuring?: Promise<void>;
  /** Tasks with files here (written by this process, or found in the tmpfs). */
  private readonly known = new Set<string>();

  constructor(readonly root: string, private readonly log: Logger, private readonly ops: TmpfsOps = systemTmpfs) {}

  /** Is the root a tmpfs now? */
  async mounted(): Promise<boolean> {
    try {
      return mountTypeAt(await this.ops.mountinfo(), this.root) === 'tmpfs';
    } catch {
      return false;
    }
  }

  /**
   * The tmpfs is mounted at the root (one an earlier run left is reused), or a TaskError says
   * why it cannot be. Checked before every write: nothing goes where a disk would keep it.
   */
  ensure(): Promise<void> {
    this.ensuring ??= this.doEnsure().finally(() => { this.ensuring = undefined; });
    return this.ensuring;
  }

  private async doEnsure(): Promise<void> {
    let info: string;
    try {
      info = await this.ops.mountinfo();
    } catch (err) {
      throw tmpfsError(this.root, `cannot read the mount table: ${why(err)}`);
    }
    const type = mountTypeAt(info, this.root);
    if (type === 'tmpfs') return;
    if (type !== undefined) throw tmpfsError(this.root, `${this.root} is a ${type} mount, not a tmpfs`);
    try {
      await this.ops.mount(this.root);
    } catch (err) {
      throw tmpfsError(this.root, `mounting a tmpfs failed: ${why(err)}`);
    }
    if (!(await this.mounted())) throw tmpfsError(this.root, 'the tmpfs does not show in the mount table after mounting it');
    this.log.info({ root: this.root }, 'mounted the tmpfs for secrets and configs');
  }

  /** Write a task's files afresh (`value` gives each one's bytes; they are wiped after the write). */
  async write(taskId: string, files: PlannedFile[], value: (f: PlannedFile) => Buffer): Promise<void> {
    await this.ensure();
    const dir = this.taskDir(taskId);
    this.known.add(taskId);
    try {
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { mode: 0o700 });
      for (const kind of new Set(files.map((f) => f.kind))) await mkdir(join(dir, `${kind}s`), { mode: 0o700 });
      for (const f of files) {
        const buf = value(f);
        try {
          // Created private, then handed over: never readable by anyone else in between.
          await writeFile(f.hostPath, buf, { mode: 0o600, flag: 'wx' });
        } finally {
          buf.fill(0);
        }
        await chown(f.hostPath, f.uid, f.gid);
        await chmod(f.hostPath, f.mode);
        this.log.debug({ task: taskId, [f.kind]: f.name }, `${f.kind} file written`);
      }
    } catch (err) {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw tmpfsError(this.root, `writing the files of task ${taskId} failed: ${why(err)}`);
    }
  }

  /** Remove a task's files (its container is gone, or it ended). */
  async removeTask(taskId: string): Promise<void> {
    if (!this.known.has(taskId) || !SAFE_NAME.test(taskId)) return;
    const dir = this.taskDir(taskId);
    try {
      await rm(dir, { recursive: true, force: true });
      this.known.delete(taskId);
      this.log.debug({ task: taskId }, 'removed the task\'s secret and config files');
    } catch (err) {
      this.log.warn({ task: taskId, err: why(err) }, 'removing the task\'s secret and config files failed');
    }
  }

  /** How many tasks have files here, as far as this process knows. */
  get holding(): number { return this.known.size; }

  /** The task ids that have files here (none when the tmpfs is not mounted). */
  async tasks(): Promise<string[]> {
    if (!(await this.mounted())) return [];
    try {
      const ids = (await readdir(this.root)).filter((n) => SAFE_NAME.test(n));
      for (const id of ids) this.known.add(id);
      return ids;
    } catch {
      return [];
    }
  }

  /** Remove the files of every task `keep` says no to. */
  async sweep(keep: (taskId: string) => boolean): Promise<void> {
    for (const id of await this.tasks()) {
      if (keep(id)) continue;
      this.log.debug({ task: id }, 'removing secret and config files of a task no longer here');
      await this.removeTask(id);
    }
  }

  /** The agent is closing: unmount the tmpfs unless a task still has files in it (its container uses them). */
  async close(): Promise<void> {
    if (!(await this.mounted())) return;
    const left = await this.tasks();
    if (left.length > 0) {
      this.log.info({ root: this.root, tasks: left.length }, 'leaving the secrets tmpfs mounted: containers still use it');
      return;
    }
    try {
      await this.ops.umount(this.root);
      await rmdir(this.root).catch(() => undefined);
      this.log.info({ root: this.root }, 'unmounted the tmpfs for secrets and configs');
    } catch (err) {
      this.log.warn({ root: this.root, err: why(err) }, 'unmounting the secrets tmpfs failed');
    }
  }

  private taskDir(taskId: string): string {
    if (!SAFE_NAME.test(taskId)) throw new TaskError(AgentErrorCodes.MOUNT_INVALID, `task id ${JSON.stringify(taskId.slice(0, 64))} cannot name a directory`);
    return join(this.root, taskId);
  }
}
