// Compose features that bring in other files or services before the files are merged:
// `extends` (a service built on another, in this file or another one) and the top-level
// `include` (another Compose application's files, its relative paths resolved against its own
// folder). Both work on the positioned trees, so every value keeps the file and line it came
// from. Pure: files are read through the injected loader.

import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import { mergeTrees } from './merge.js';
import type { Diagnostics } from './normalize.js';
import { getEntry, type Pos, type TEntry, type TMap, type TNode } from './tree.js';

/** A file read for extends or include: its tree (interpolated) or undefined (the loader reported why). */
export type LoadTree = (absPath: string, shown: string, at: Pos, field: string, envFiles?: string[]) => TMap | undefined;

/** Deepest chain of extends or includes (each level a file or a service). */
const MAX_DEPTH = 32;

// ---- relative paths ----

const str = (n: TNode): string | undefined => (n.kind === 'scalar' && typeof n.value === 'string' ? n.value : undefined);
const withValue = (n: TNode, value: string): TNode => ({ ...n, value } as TNode);
const abs = (dir: string, p: string): string => (isAbsolute(p) ? p : resolvePath(dir, p));

/**
 * The relative paths of a service (bind sources, env_file, label_file), made absolute against
 * `dir`: a service taken from a file in another folder keeps pointing where that file meant.
 */
export function rebaseService(svc: TNode, dir: string): TNode {
  if (svc.kind !== 'map') return svc;
  const entries = svc.entries.map((e): TEntry => {
    if (e.key === 'env_file' || e.key === 'label_file') return { ...e, value: rebaseFiles(e.value, dir) };
    if (e.key === 'volumes' && e.value.kind === 'seq') return { ...e, value: { ...e.value, items: e.value.items.map((v) => rebaseVolume(v, dir)) } };
    if (e.key === 'build') return { ...e, value: rebaseBuild(e.value, dir) };
    return e;
  });
  return { ...svc, entries };
}

function rebaseFiles(n: TNode, dir: string): TNode {
  const one = (x: TNode): TNode => {
    const s = str(x);
    if (s !== undefined) return withValue(x, abs(dir, s));
    if (x.kind === 'map') return { ...x, entries: x.entries.map((e) => (e.key === 'path' && str(e.value) !== undefined ? { ...e, value: withValue(e.value, abs(dir, str(e.value)!)) } : e)) };
    return x;
  };
  return n.kind === 'seq' ? { ...n, items: n.items.map(one) } : one(n);
}

function rebaseVolume(v: TNode, dir: string): TNode {
  const s = str(v);
  if (s !== undefined) {
    const i = s.indexOf(':');
    if (i > 0 && s.startsWith('.')) return withValue(v, `${abs(dir, s.slice(0, i))}${s.slice(i)}`);
    return v;
  }
  if (v.kind !== 'map') return v;
  const type = getEntry(v, 'type');
  if (!type || str(type.value) !== 'bind') return v;
  return { ...v, entries: v.entries.map((e) => (e.key === 'source' && str(e.value)?.startsWith('.') ? { ...e, value: withValue(e.value, abs(dir, str(e.value)!)) } : e)) };
}

function rebaseBuild(b: TNode, dir: string): TNode {
  const s = str(b);
  if (s !== undefined) return withValue(b, abs(dir, s));
  if (b.kind !== 'map') return b;
  return { ...b, entries: b.entries.map((e) => (e.key === 'context' && str(e.value) !== undefined && !/^[a-z]+:\/\//.test(str(e.value)!) ? { ...e, value: withValue(e.value, abs(dir, str(e.value)!)) } : e)) };
}

/** Top-level secrets and configs read from `file:`: made absolute against `dir`. */
function rebaseObjects(n: TNode, dir: string): TNode {
  if (n.kind !== 'map') return n;
  return {
    ...n,
    entries: n.entries.map((o) => (o.value.kind !== 'map' ? o : {
      ...o,
      value: { ...o.value, entries: o.value.entries.map((e) => (e.key === 'file' && str(e.value) !== undefined ? { ...e, value: withValue(e.value, abs(dir, str(e.value)!)) } : e)) },
    })),
  };
}

// ---- extends ----

interface ExtendsContext {
  d: Diagnostics;
  load: LoadTree;
  /** the folder of the file being resolved, absolute, and as the user named it */
  dir: string;
  shownDir: string;
}

/**
 * Every service's `extends` in `root` (a file's tree), resolved: the base service (from this
 * file or `file:`), itself resolved first, with the service merged over it by Compose's
 * override rules. A cycle or a missing service is an error naming the extends entry.
 */
export function resolveExtends(root: TMap, ctx: ExtendsContext, file: string, chain: string[] = []): TMap {
  const servicesEntry = getEntry(root, 'services');
  if (!servicesEntry || servicesEntry.value.kind !== 'map') return root;
  const services = servicesEntry.value;
  const done = new Map<string, TNode>();
  const resolving = new Set<string>();

  const resolveOne = (name: string, node: TNode, path: string[]): TNode => {
    const cached = done.get(name);
    if (cached) return cached;
    if (node.kind !== 'map') return node;
    const ext = getEntry(node, 'extends');
    if (!ext) {
      done.set(name, node);
      return node;
    }
    const field = `services.${name}.extends`;
    const rest: TMap = { ...node, entries: node.entries.filter((e) => e.key !== 'extends') };
    let base: string | undefined;
    let fromFile: string | undefined;
    let fileNode: TNode | undefined;
    if (ext.value.kind === 'scalar' && typeof ext.value.value === 'string') base = ext.value.value;
    else if (ext.value.kind === 'map') {
      for (const e of ext.value.entries) {
        if (e.key === 'service') base = str(e.value);
        else if (e.key === 'file') {
          fromFile = str(e.value);
          fileNode = e.value;
        } else ctx.d.warn(e.keyPos, `${field}.${e.key}`, `unknown key ${e.key}; ignored`);
      }
      if (base === undefined) {
        ctx.d.error(ext.value.pos, `${field}.service`, 'extends needs the service to extend (service: NAME)');
        return rest;
      }
    } else {
      ctx.d.error(ext.value.pos, field, 'must be a service name or {service, file}');
      return rest;
    }
    let baseNode: TNode | undefined;
    if (fromFile === undefined) {
      if (resolving.has(name) || path.length > MAX_DEPTH) {
        ctx.d.error(ext.value.pos, field, `extends cycle: ${[...path, name].join(' -> ')}`);
        return rest;
      }
      const target = getEntry(services, base);
      if (!target) {
        ctx.d.error(ext.value.pos, field, `service ${name} extends undefined service "${base}"`);
        return rest;
      }
      resolving.add(name);
      baseNode = resolveOne(base, target.value, [...path, name]);
      resolving.delete(name);
    } else {
      const absPath = abs(ctx.dir, fromFile);
      const shown = isAbsolute(fromFile) ? fromFile : `${ctx.shownDir === '.' ? '' : `${ctx.shownDir}/`}${fromFile}`;
      const key = `${absPath}#${base}`;
      if (chain.includes(key) || chain.length > MAX_DEPTH) {
        ctx.d.error(fileNode!.pos, `${field}.file`, `extends cycle through ${shown}`);
        return rest;
      }
      const other = ctx.load(absPath, shown, fileNode!.pos, `${field}.file`);
      if (!other) return rest;
      const resolved = resolveExtends(other, { ...ctx, dir: dirname(absPath), shownDir: dirname(shown) }, shown, [...chain, key]);
      const os = getEntry(resolved, 'services');
      const target = os && os.value.kind === 'map' ? getEntry(os.value, base) : undefined;
      if (!target) {
        ctx.d.error(ext.value.pos, field, `service ${name} extends "${base}", which ${shown} does not define`);
        return rest;
      }
      baseNode = dirname(absPath) === ctx.dir ? target.value : rebaseService(target.value, dirname(absPath));
    }
    // the base's own dependencies on other services are not inherited (as Compose)
    const deps = baseNode.kind === 'map' ? getEntry(baseNode, 'depends_on') : undefined;
    if (deps) ctx.d.warn(ext.keyPos, field, `the depends_on of ${base} is not inherited by ${name}: give ${name} its own`);
    const inherited: TNode = baseNode.kind === 'map' ? { ...baseNode, entries: baseNode.entries.filter((e) => e.key !== 'depends_on') } : baseNode;
    const merged = mergeTrees(inherited, rest, ['services', name]);
    done.set(name, merged);
    return merged;
  };

  const entries = services.entries.map((e) => ({ ...e, value: resolveOne(e.key, e.value, []) }));
  return { ...root, entries: root.entries.map((e) => (e === servicesEntry ? { ...e, value: { ...services, entries } } : e)) };
}

// ---- include ----

const MERGED_SECTIONS = ['services', 'networks', 'volumes', 'secrets', 'configs'];

/**
 * The top-level `include` of `root`: each entry's files (path: one or a list, merged in order),
 * their relative paths resolved against their own folder (or project_directory), their
 * variables from env_file when given; their services, networks, volumes, secrets and configs
 * added to `root`. One defined in both is an error naming both places.
 */
export function resolveIncludes(root: TMap, ctx: ExtendsContext, chain: string[] = []): TMap {
  const inc = getEntry(root, 'include');
  if (!inc) return root;
  let out: TMap = { ...root, entries: root.entries.filter((e) => e !== inc) };
  if (inc.value.kind !== 'seq') {
    ctx.d.error(inc.value.pos, 'include', 'must be a list of files or {path, project_directory, env_file}');
    return out;
  }
  inc.value.items.forEach((item, i) => {
    const f = `include[${i}]`;
    let paths: { value: string; node: TNode }[] = [];
    let projectDir: string | undefined;
    let envFiles: string[] | undefined;
    if (str(item) !== undefined) paths = [{ value: str(item)!, node: item }];
    else if (item.kind === 'map') {
      for (const e of item.entries) {
        if (e.key === 'path') {
          if (str(e.value) !== undefined) paths = [{ value: str(e.value)!, node: e.value }];
          else if (e.value.kind === 'seq') paths = e.value.items.filter((x) => str(x) !== undefined).map((x) => ({ value: str(x)!, node: x }));
          else ctx.d.error(e.value.pos, `${f}.path`, 'must be a file or a list of files');
        } else if (e.key === 'project_directory') {
          const s = str(e.value);
          if (s === undefined) ctx.d.error(e.value.pos, `${f}.project_directory`, 'must be a folder');
          else projectDir = abs(ctx.dir, s);
        } else if (e.key === 'env_file') {
          const list = str(e.value) !== undefined ? [str(e.value)!] : e.value.kind === 'seq' ? e.value.items.map(str).filter((x): x is string => x !== undefined) : undefined;
          if (!list) ctx.d.error(e.value.pos, `${f}.env_file`, 'must be a file or a list of files');
          else envFiles = list.map((p) => abs(ctx.dir, p));
        } else ctx.d.warn(e.keyPos, `${f}.${e.key}`, `unknown key ${e.key}; ignored`);
      }
      if (paths.length === 0 && !getEntry(item, 'path')) ctx.d.error(item.pos, `${f}.path`, 'an include needs a path');
    } else {
      ctx.d.error(item.pos, f, 'must be a file or {path, project_directory, env_file}');
      return;
    }
    let included: TMap | undefined;
    let firstDir: string | undefined;
    for (const p of paths) {
      const absPath = abs(ctx.dir, p.value);
      const shown = isAbsolute(p.value) ? p.value : `${ctx.shownDir === '.' ? '' : `${ctx.shownDir}/`}${p.value}`;
      if (chain.includes(absPath) || chain.length > MAX_DEPTH) {
        ctx.d.error(p.node.pos, f, `include cycle through ${shown}`);
        return;
      }
      const tree = ctx.load(absPath, shown, p.node.pos, f, envFiles);
      if (!tree) return;
      firstDir ??= dirname(absPath);
      const sub = { ...ctx, dir: dirname(absPath), shownDir: dirname(shown) };
      const resolved = resolveExtends(resolveIncludes(tree, sub, [...chain, absPath]), sub, shown);
      included = included ? (mergeTrees(included, resolved) as TMap) : resolved;
    }
    if (!included) return;
    const base = projectDir ?? firstDir!;
    out = addSections(out, rebaseTree(included, base), ctx.d, f);
  });
  return out;
}

/** An included application's relative paths made absolute against its project folder. */
function rebaseTree(t: TMap, dir: string): TMap {
  return {
    ...t,
    entries: t.entries.map((e) => {
      if (e.key === 'services' && e.value.kind === 'map') return { ...e, value: { ...e.value, entries: e.value.entries.map((s) => ({ ...s, value: rebaseService(s.value, dir) })) } };
      if (e.key === 'secrets' || e.key === 'configs') return { ...e, value: rebaseObjects(e.value, dir) };
      return e;
    }),
  };
}

const where = (p: Pos): string => `${p.file}:${p.line}:${p.col}`;

function addSections(root: TMap, inc: TMap, d: Diagnostics, f: string): TMap {
  let entries = [...root.entries];
  for (const section of MERGED_SECTIONS) {
    const add = getEntry(inc, section);
    if (!add || add.value.kind !== 'map') continue;
    const i = entries.findIndex((e) => e.key === section);
    const have = i === -1 ? undefined : entries[i];
    if (!have || have.value.kind !== 'map') {
      if (have) entries = entries.filter((e) => e !== have);
      entries.push(add);
      continue;
    }
    const kept = [...have.value.entries];
    for (const e of add.value.entries) {
      const clash = kept.find((k) => k.key === e.key);
      if (clash) {
        d.error(clash.keyPos, `${section}.${e.key}`, `${section}.${e.key} is also defined by the included file at ${where(e.keyPos)} (${f}): define it once`);
        continue;
      }
      kept.push(e);
    }
    entries[i] = { ...have, value: { ...have.value, entries: kept } };
  }
  // an included file's own top-level extensions and name are not the including application's
  return { ...root, entries };
}
