// Merging several stack files (`-c a.yml -c b.yml`), following the Compose Specification's
// merge rules on the positioned trees (so every value keeps the file and line it came from):
//   - mappings merge key by key, recursively; scalars and most sequences are replaced;
//   - environment, labels, deploy.labels, a service's networks and depends_on merge as maps
//     (their list forms are turned into maps first);
//   - sysctls, annotations and storage_opt merge as maps too;
//   - ports, env_file, placement constraints and preferences are concatenated
//     (duplicates removed later), and so are cap_add, cap_drop, devices, dns, dns_search,
//     dns_opt, extra_hosts, group_add, security_opt, tmpfs, device_cgroup_rules and label_file;
//   - a service's volumes are merged by mount target (the later file wins);
//   - a service's build merges as a mapping (`build: DIR` is {context: DIR}); its args and
//     labels merge as maps, its cache_from, tags and extra_hosts are concatenated;
//   - an explicit null in a later file keeps the earlier value.

import type { TEntry, TMap, TNode, TSeq } from './tree.js';

type Rule = 'map' | 'concat' | 'by-target' | 'replace';

/** Lists of a service that later files add to (Compose's rule for these keys). */
const CONCAT_LISTS = ['cap_add', 'cap_drop', 'devices', 'dns', 'dns_search', 'dns_opt', 'extra_hosts', 'group_add', 'security_opt', 'tmpfs', 'device_cgroup_rules', 'label_file'];

/** Service keys (dotted below the service) merged as maps, and those whose lists later files add to. */
const MAP_KEYS = new Set(['environment', 'labels', 'deploy.labels', 'networks', 'depends_on', 'sysctls', 'annotations', 'storage_opt', 'build.args', 'build.labels']);
const CONCAT_KEYS = new Set(['ports', 'env_file', 'deploy.placement.constraints', 'deploy.placement.preferences', ...CONCAT_LISTS, 'build.cache_from', 'build.tags', 'build.extra_hosts']);

function ruleFor(path: string[]): Rule {
  if (path[0] === 'services' && path.length >= 3) {
    const rest = path.slice(2).join('.');
    if (MAP_KEYS.has(rest)) return 'map';
    if (CONCAT_KEYS.has(rest)) return 'concat';
    if (rest === 'volumes') return 'by-target';
    return 'replace';
  }
  if ((path[0] === 'networks' || path[0] === 'volumes') && path.length === 3 && path[2] === 'labels') return 'map';
  return 'replace';
}

export function mergeTrees(base: TNode, over: TNode, path: string[] = []): TNode {
  if (over.kind === 'scalar' && over.value === null && base.kind !== 'scalar') return base;
  const rule = ruleFor(path);
  // `build: ./dir` is the mapping {context: ./dir}: a later file's build mapping merges into it
  if (path[0] === 'services' && path.length === 3 && path[2] === 'build') {
    const asMap = (n: TNode): TNode => (n.kind === 'scalar' && typeof n.value === 'string' ? { kind: 'map', pos: n.pos, entries: [{ key: 'context', keyPos: n.pos, value: n }] } : n);
    const [b, o] = [asMap(base), asMap(over)];
    if (base.kind !== over.kind && b.kind === 'map' && o.kind === 'map') return mergeMaps(b, o, path);
  }
  if (rule === 'map' && (base.kind === 'seq' || over.kind === 'seq')) {
    const b = listToMap(base, path);
    const o = listToMap(over, path);
    if (b && o) return mergeMaps(b, o, path);
    return over;
  }
  if (base.kind === 'map' && over.kind === 'map') return mergeMaps(base, over, path);
  if (base.kind === 'seq' && over.kind === 'seq') {
    if (rule === 'concat') return { ...over, items: [...base.items, ...over.items] };
    if (rule === 'by-target') return mergeByTarget(base, over);
  }
  return over;
}

function mergeMaps(base: TMap, over: TMap, path: string[]): TMap {
  const entries: TEntry[] = base.entries.map((e) => ({ ...e }));
  const index = new Map(entries.map((e, i) => [e.key, i]));
  for (const oe of over.entries) {
    const i = index.get(oe.key);
    if (i === undefined) {
      index.set(oe.key, entries.length);
      entries.push(oe);
    } else entries[i] = { key: oe.key, keyPos: oe.keyPos, value: mergeTrees(entries[i].value, oe.value, [...path, oe.key]) };
  }
  return { kind: 'map', pos: base.pos, entries };
}

/** List form -> map form for environment/labels ("K=V"), networks and depends_on (names). */
function listToMap(n: TNode, path: string[]): TMap | undefined {
  if (n.kind === 'map') return n;
  if (n.kind !== 'seq') return undefined;
  const last = path[path.length - 1];
  const kv = last === 'environment' || last === 'labels' || last === 'sysctls' || last === 'annotations' || last === 'args';
  const entries: TEntry[] = [];
  for (const item of n.items) {
    if (item.kind !== 'scalar' || typeof item.value !== 'string') return undefined;
    const s = item.value;
    if (kv) {
      const eq = s.indexOf('=');
      const key = eq === -1 ? s : s.slice(0, eq);
      const value = eq === -1 ? (last === 'labels' || last === 'annotations' ? '' : null) : s.slice(eq + 1);
      entries.push({ key, keyPos: item.pos, value: { kind: 'scalar', pos: item.pos, value } });
    } else {
      entries.push({ key: s, keyPos: item.pos, value: { kind: 'scalar', pos: item.pos, value: null } });
    }
  }
  return { kind: 'map', pos: n.pos, entries };
}

/** The mount target of a service volume entry, short or long syntax. */
export function volumeTarget(n: TNode): string | undefined {
  if (n.kind === 'scalar' && typeof n.value === 'string') {
    const parts = n.value.split(':');
    return parts.length === 1 ? parts[0] : parts[1];
  }
  if (n.kind === 'map') {
    const t = n.entries.find((e) => e.key === 'target')?.value;
    if (t?.kind === 'scalar' && typeof t.value === 'string') return t.value;
  }
  return undefined;
}

function mergeByTarget(base: TSeq, over: TSeq): TSeq {
  const items = [...base.items];
  const index = new Map<string, number>();
  items.forEach((b, i) => {
    const t = volumeTarget(b);
    if (t !== undefined && !index.has(t)) index.set(t, i);
  });
  for (const o of over.items) {
    const t = volumeTarget(o);
    const i = t === undefined ? undefined : index.get(t);
    if (i === undefined) {
      if (t !== undefined) index.set(t, items.length);
      items.push(o);
    } else items[i] = o;
  }
  return { ...over, items };
}
