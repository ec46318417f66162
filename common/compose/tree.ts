// YAML text -> a small positioned tree (maps, sequences, scalars), with anchors, aliases and
// merge keys resolved and variables interpolated in string scalars. Every node keeps the
// file:line:col it came from, so later validation can point at it.

import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YNode } from 'yaml';
import type { ErrorDetail } from '../errors.js';
import { interpolate, type Lookup } from './interpolate.js';

export interface Pos { file: string; line: number; col: number }

export type TNode =
  | { kind: 'map'; pos: Pos; entries: Map<string, { keyPos: Pos; value: TNode }> }
  | { kind: 'seq'; pos: Pos; items: TNode[] }
  | { kind: 'scalar'; pos: Pos; value: string | number | boolean | null; quoted: boolean };

export interface TreeResult { root?: TNode; errors: ErrorDetail[]; warnings: ErrorDetail[] }

export function parseTree(file: string, text: string, lookup: Lookup): TreeResult {
  const errors: ErrorDetail[] = [];
  const warnings: ErrorDetail[] = [];
  const lc = new LineCounter();
  const doc = parseDocument(text, { merge: true, lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined): Pos => {
    const p = lc.linePos(offset ?? 0);
    return { file, line: p.line, col: p.col };
  };
  for (const e of doc.errors) {
    const p = at(e.pos?.[0]);
    errors.push({ ...p, message: `invalid YAML: ${e.message.split('\n')[0]}` });
  }
  if (errors.length) return { errors, warnings };
  const missingSeen = new Set<string>();

  const convert = (node: unknown, path: string, depth = 0): TNode => {
    if (depth > 64) throw new Error('nesting too deep');
    if (isAlias(node)) {
      const target = node.resolve(doc as Document) as YNode | undefined;
      if (!target) { errors.push({ ...at(node.range?.[0]), field: path, message: `unknown alias *${node.source}` }); return nul(at(node.range?.[0])); }
      return convert(target, path, depth + 1);
    }
    if (isMap(node)) {
      const pos = at(node.range?.[0]);
      const entries = new Map<string, { keyPos: Pos; value: TNode }>();
      const merged: TNode[] = [];
      for (const pair of node.items) {
        const k = pair.key as YNode | null;
        const keyPos = at((k as { range?: [number] } | null)?.range?.[0] ?? node.range?.[0]);
        const rawKey = isScalar(k) ? k.value : k;
        if (typeof rawKey === 'symbol' || rawKey === '<<') {
          const v = pair.value;
          const sources = isSeq(v) ? v.items : [v];
          for (const s of sources) merged.push(convert(s, path, depth + 1));
          continue;
        }
        if (rawKey === null || typeof rawKey === 'object') { errors.push({ ...keyPos, field: path, message: 'mapping keys must be plain scalars' }); continue; }
        const key = String(rawKey);
        entries.set(key, { keyPos, value: pair.value === null || pair.value === undefined ? nul(keyPos) : convert(pair.value, path ? `${path}.${key}` : key, depth + 1) });
      }
      // Merge keys: explicit keys win, then earlier merge sources over later ones.
      for (const m of merged) {
        if (m.kind !== 'map') { errors.push({ ...m.pos, field: path, message: 'a merge key (<<) must refer to a mapping' }); continue; }
        for (const [k, v] of m.entries) if (!entries.has(k)) entries.set(k, v);
      }
      return { kind: 'map', pos, entries };
    }
    if (isSeq(node)) {
      return { kind: 'seq', pos: at(node.range?.[0]), items: node.items.map((x, i) => (x === null ? nul(at(node.range?.[0])) : convert(x, `${path}[${i}]`, depth + 1))) };
    }
    if (isScalar(node)) {
      const pos = at(node.range?.[0]);
      const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' || node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED';
      let v = node.value as unknown;
      if (typeof v === 'string') {
        const r = interpolate(v, lookup);
        for (const e of r.errors) errors.push({ ...pos, field: path, message: e });
        for (const m of r.missing) {
          if (missingSeen.has(m)) continue;
          missingSeen.add(m);
          warnings.push({ ...pos, field: path, message: `variable ${m} is not set; using an empty string` });
        }
        v = r.value;
      }
      if (v === undefined) v = null;
      if (typeof v === 'bigint') v = Number(v);
      if (v !== null && typeof v === 'object') v = String(v);
      return { kind: 'scalar', pos, value: v as string | number | boolean | null, quoted };
    }
    if (node === null || node === undefined) return nul({ file, line: 1, col: 1 });
    errors.push({ file, line: 1, col: 1, field: path, message: 'unsupported YAML node' });
    return nul({ file, line: 1, col: 1 });
  };

  try {
    const root = doc.contents === null ? nul({ file, line: 1, col: 1 }) : convert(doc.contents, '');
    return { root, errors, warnings };
  } catch (err) {
    errors.push({ file, line: 1, col: 1, message: (err as Error).message });
    return { errors, warnings };
  }
}

const nul = (pos: Pos): TNode => ({ kind: 'scalar', pos, value: null, quoted: false });

/** Compose's rules for combining several -c files: maps merge, most values replace, some lists append. */
const APPEND = new Set(['ports', 'volumes', 'env_file', 'dns', 'extra_hosts', 'expose', 'external_links', 'secrets', 'configs']);

export function mergeTrees(base: TNode, over: TNode, key = ''): TNode {
  if (base.kind === 'map' && over.kind === 'map') {
    const entries = new Map(base.entries);
    for (const [k, v] of over.entries) {
      const cur = entries.get(k);
      entries.set(k, cur ? { keyPos: v.keyPos, value: mergeTrees(cur.value, v.value, k) } : v);
    }
    return { ...over, entries };
  }
  if (base.kind === 'seq' && over.kind === 'seq' && APPEND.has(key)) return { ...over, items: [...base.items, ...over.items] };
  if ((key === 'environment' || key === 'labels') && base.kind !== over.kind) {
    return mergeTrees(seqToMap(base), seqToMap(over), key);
  }
  return over;
}

/** ["A=1", "B"] -> {A: "1", B: null}, keeping positions. */
export function seqToMap(n: TNode): TNode {
  if (n.kind !== 'seq') return n;
  const entries = new Map<string, { keyPos: Pos; value: TNode }>();
  for (const it of n.items) {
    if (it.kind !== 'scalar') continue;
    const s = String(it.value ?? '');
    const eq = s.indexOf('=');
    entries.set(eq < 0 ? s : s.slice(0, eq), { keyPos: it.pos, value: { kind: 'scalar', pos: it.pos, value: eq < 0 ? null : s.slice(eq + 1), quoted: true } });
  }
  return { kind: 'map', pos: n.pos, entries };
}
