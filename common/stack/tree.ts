// A positioned, alias-free tree built from a YAML document: every node knows the file, line
// and column it came from, so validation can point at the offending value. YAML anchors and
// aliases are expanded and merge keys (`<<`) applied here, before interpolation and validation.

import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YNode } from 'yaml';
import type { ErrorDetail } from '../errors.js';

export interface Pos {
  file: string;
  line: number; // 1-based
  col: number; // 1-based
}

export type ScalarValue = string | number | boolean | null;

export interface TScalar {
  kind: 'scalar';
  pos: Pos;
  value: ScalarValue;
}

export interface TEntry {
  key: string;
  keyPos: Pos;
  value: TNode;
}

export interface TMap {
  kind: 'map';
  pos: Pos;
  entries: TEntry[];
}

export interface TSeq {
  kind: 'seq';
  pos: Pos;
  items: TNode[];
}

export type TNode = TScalar | TMap | TSeq;

/** Alias expansion budget: guards against "billion laughs" documents. */
const MAX_NODES = 200_000;

export function getEntry(map: TMap, key: string): TEntry | undefined {
  return map.entries.find((e) => e.key === key);
}

export function get(map: TMap, key: string): TNode | undefined {
  return getEntry(map, key)?.value;
}

export const isNull = (n: TNode | undefined): boolean => n === undefined || (n.kind === 'scalar' && n.value === null);

/** Plain JS value of a tree (extension fields are kept this way). */
export function toPlain(n: TNode): unknown {
  if (n.kind === 'scalar') return n.value;
  if (n.kind === 'seq') return n.items.map(toPlain);
  const out: Record<string, unknown> = {};
  for (const e of n.entries) out[e.key] = toPlain(e.value);
  return out;
}

/** Parse one YAML file into a tree. Syntax errors come back as details (with positions). */
export function parseYamlTree(file: string, text: string): { root?: TNode; errors: ErrorDetail[] } {
  const lc = new LineCounter();
  const errors: ErrorDetail[] = [];
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { merge: true, lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  } catch (e) {
    return { errors: [{ file, message: `invalid YAML: ${(e as Error).message}` }] };
  }
  for (const e of doc.errors) {
    const lp = lc.linePos(e.pos[0]);
    const msg = e.code === 'MULTIPLE_DOCS' ? 'a stack file holds one YAML document (remove the ---)' : firstLine(e.message);
    errors.push({ file, line: lp.line, col: lp.col, message: `invalid YAML: ${msg}` });
  }
  if (errors.length) return { errors };
  const posOf = (n: { range?: [number, number, number] | null } | null | undefined, fallback: Pos): Pos => {
    if (!n?.range) return fallback;
    const lp = lc.linePos(n.range[0]);
    return { file, line: lp.line, col: lp.col };
  };
  let budget = MAX_NODES;
  const top: Pos = { file, line: 1, col: 1 };

  const build = (yn: unknown, fallback: Pos, stack: Set<unknown>): TNode => {
    if (--budget < 0) throw new TreeError({ ...fallback, message: 'document too large after expanding aliases' });
    if (isAlias(yn)) {
      const target = yn.resolve(doc);
      const pos = posOf(yn, fallback);
      if (!target) throw new TreeError({ ...pos, message: `unknown alias *${yn.source}` });
      if (stack.has(target)) throw new TreeError({ ...pos, message: `alias *${yn.source} refers to itself` });
      stack.add(target);
      try {
        // keep the alias's own position for the top node: errors then point where it is used
        const built = build(target, pos, stack);
        return { ...built, pos } as TNode;
      } finally {
        stack.delete(target);
      }
    }
    const pos = posOf(yn as YNode, fallback);
    if (isScalar(yn)) {
      const v = yn.value;
      if (v === null || v === undefined) return { kind: 'scalar', pos, value: null };
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return { kind: 'scalar', pos, value: v };
      if (typeof v === 'bigint') return { kind: 'scalar', pos, value: Number(v) };
      if (v instanceof Date) return { kind: 'scalar', pos, value: String(yn.source ?? v.toISOString()) };
      return { kind: 'scalar', pos, value: String(v) };
    }
    if (isSeq(yn)) return { kind: 'seq', pos, items: yn.items.map((i) => build(i, pos, stack)) };
    if (isMap(yn)) {
      const own: TEntry[] = [];
      const merged: TEntry[][] = [];
      for (const pair of yn.items) {
        const k = pair.key;
        const keyPos = posOf(k as YNode, pos);
        const valueNode = pair.value === null ? { kind: 'scalar' as const, pos: keyPos, value: null } : build(pair.value, keyPos, stack);
        if (isScalar(k) && (typeof k.value === 'symbol' || k.source === '<<')) {
          // merge key: a map, or a list of maps; earlier maps in the list win
          const srcs = valueNode.kind === 'seq' ? valueNode.items : [valueNode];
          for (const s of srcs) {
            if (s.kind !== 'map') throw new TreeError({ ...s.pos, message: 'merge key << needs a mapping or a list of mappings' });
            merged.push(s.entries);
          }
          continue;
        }
        let key: string;
        if (isScalar(k)) key = k.value === null || k.value === undefined ? '' : String(k.value);
        else if (k === null || k === undefined) key = '';
        else throw new TreeError({ ...keyPos, message: 'mapping keys must be scalars' });
        own.push({ key, keyPos, value: valueNode });
      }
      const entries = [...own];
      const seen = new Set(own.map((e) => e.key));
      for (const group of merged) {
        for (const e of group) {
          if (seen.has(e.key)) continue;
          seen.add(e.key);
          entries.push(e);
        }
      }
      return { kind: 'map', pos, entries };
    }
    if (yn === null || yn === undefined) return { kind: 'scalar', pos: fallback, value: null };
    throw new TreeError({ ...pos, message: 'unsupported YAML node' });
  };

  try {
    const root = doc.contents === null ? { kind: 'scalar' as const, pos: top, value: null } : build(doc.contents, top, new Set());
    return { root, errors };
  } catch (e) {
    if (e instanceof TreeError) return { errors: [e.detail] };
    throw e;
  }
}

class TreeError extends Error {
  readonly detail: ErrorDetail;
  constructor(d: Pos & { message: string }) {
    super(d.message);
    this.detail = { file: d.file, line: d.line, col: d.col, message: d.message };
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}
