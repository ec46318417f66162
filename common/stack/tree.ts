// A positioned, alias-free tree built from a YAML document: every node knows the file, line
// and column it came from, so validation can point at the offending value. YAML anchors and
// aliases are expanded and merge keys (`<<`) applied here, before interpolation and validation.

import { Composer, isAlias, isMap, isScalar, isSeq, LineCounter, Parser, type CST, type Document, type Node as YNode } from 'yaml';
import { LIMITS } from '../api/limits.js';
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
  /** A number's text when it starts with 0 (`mode: 0440` is octal to Compose, decimal to YAML 1.2). */
  raw?: string;
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

/** Values in one file after expanding aliases: guards against "billion laughs" documents. */
const MAX_NODES = 1_000_000;

export function getEntry(map: TMap, key: string): TEntry | undefined {
  return map.entries.find((e) => e.key === key);
}

const deepMessage = `nesting deeper than ${LIMITS.depth} levels`;

/**
 * Offset of the first collection nested deeper than LIMITS.depth in the YAML syntax tree, or
 * undefined. Iterative: the YAML composer recurses per level, so a deep document (block or
 * flow style) is refused here, before it can exhaust the call stack.
 */
function tooDeep(tokens: CST.Token[]): number | undefined {
  const todo: [CST.Token | undefined, number][] = tokens.map((t) => [t, 0]);
  while (todo.length) {
    const [t, depth] = todo.pop()!;
    if (!t) continue;
    if (t.type === 'document') todo.push([t.value, depth]);
    else if (t.type === 'block-map' || t.type === 'block-seq' || t.type === 'flow-collection') {
      const d = depth + 1;
      if (d > LIMITS.depth) return t.offset;
      for (const it of t.items) {
        if ('key' in it) todo.push([it.key ?? undefined, d]);
        todo.push([it.value, d]);
      }
    }
  }
  return undefined;
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
  let doc: Document.Parsed | undefined;
  try {
    // parseDocument's steps, with a depth check between the (iterative) parser and the
    // (recursive) composer; duplicate keys are found below in O(1) each (the library's own
    // check is quadratic in the size of a mapping)
    const tokens = [...new Parser(lc.addNewLine).parse(text)];
    const deep = tooDeep(tokens);
    if (deep !== undefined) {
      const lp = lc.linePos(deep);
      return { errors: [{ file, line: lp.line, col: lp.col, message: `invalid YAML: ${deepMessage}` }] };
    }
    const composer = new Composer({ merge: true, uniqueKeys: false });
    for (const d of composer.compose(tokens, true, text.length)) {
      if (!doc) doc = d;
      else {
        const lp = lc.linePos(d.range[0]);
        errors.push({ file, line: lp.line, col: lp.col, message: 'invalid YAML: a stack file holds one YAML document (remove the ---)' });
        break;
      }
    }
  } catch (e) {
    if (e instanceof RangeError) return { errors: [{ file, message: `invalid YAML: ${deepMessage}` }] };
    return { errors: [{ file, message: `invalid YAML: ${(e as Error).message}` }] };
  }
  if (!doc) return { errors: [{ file, message: 'invalid YAML: no document' }] };
  const parsed = doc;
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

  const build = (yn: unknown, fallback: Pos, stack: Set<unknown>, depth: number): TNode => {
    if (--budget < 0) throw new TreeError({ ...fallback, message: `more than ${MAX_NODES} values after expanding aliases` });
    if (isAlias(yn)) {
      const target = yn.resolve(parsed);
      const pos = posOf(yn, fallback);
      if (!target) throw new TreeError({ ...pos, message: `unknown alias *${yn.source}` });
      if (stack.has(target)) throw new TreeError({ ...pos, message: `alias *${yn.source} refers to itself` });
      stack.add(target);
      try {
        // keep the alias's own position for the top node: errors then point where it is used
        const built = build(target, pos, stack, depth);
        return { ...built, pos } as TNode;
      } finally {
        stack.delete(target);
      }
    }
    const pos = posOf(yn as YNode, fallback);
    if ((isSeq(yn) || isMap(yn)) && depth >= LIMITS.depth) throw new TreeError({ ...pos, message: `${deepMessage} (after expanding aliases)` });
    if (isScalar(yn)) {
      const v = yn.value;
      if (v === null || v === undefined) return { kind: 'scalar', pos, value: null };
      if (typeof v === 'number' && typeof yn.source === 'string' && /^0\d/.test(yn.source)) return { kind: 'scalar', pos, value: v, raw: yn.source };
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return { kind: 'scalar', pos, value: v };
      if (typeof v === 'bigint') return { kind: 'scalar', pos, value: Number(v) };
      if (v instanceof Date) return { kind: 'scalar', pos, value: String(yn.source ?? v.toISOString()) };
      return { kind: 'scalar', pos, value: String(v) };
    }
    if (isSeq(yn)) return { kind: 'seq', pos, items: yn.items.map((i) => build(i, pos, stack, depth + 1)) };
    if (isMap(yn)) {
      const own: TEntry[] = [];
      const merged: TEntry[][] = [];
      const keys = new Set<string>();
      for (const pair of yn.items) {
        const k = pair.key;
        const keyPos = posOf(k as YNode, pos);
        const valueNode = pair.value === null ? { kind: 'scalar' as const, pos: keyPos, value: null } : build(pair.value, keyPos, stack, depth + 1);
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
        if (keys.has(key)) throw new TreeError({ ...keyPos, message: `invalid YAML: map keys must be unique; "${key.length > 40 ? `${key.slice(0, 40)}...` : key}" is repeated` });
        keys.add(key);
        own.push({ key, keyPos, value: valueNode });
      }
      const entries = own;
      const seen = keys;
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
    const root = doc.contents === null ? { kind: 'scalar' as const, pos: top, value: null } : build(doc.contents, top, new Set(), 0);
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
