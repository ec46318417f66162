// Placement constraints ("node.labels.zone==eu", "node.role!=manager"), as Swarm spells them.
// Parsing is separate from matching: the shared validator (validate.ts) refuses a bad
// constraint in a stack file or a request with this parser; the scheduler and the global
// orchestrator match with it.

import type { NodeObj } from './objects.js';
import { normaliseArch } from './platform.js';

export interface Constraint {
  /** The expression as written. */
  expr: string;
  key: string;
  op: '==' | '!=';
  value: string;
}

const FIXED_KEYS = ['node.id', 'node.hostname', 'node.role', 'node.platform.os', 'node.platform.arch'];
const LABEL_PREFIXES = ['node.labels.', 'engine.labels.'];
const KEY_HELP = 'use node.id, node.hostname, node.role, node.labels.<name>, engine.labels.<name>, node.platform.os or node.platform.arch';
const VALUE_RE = /^[A-Za-z0-9:_\-.*/()?+[\]\\^$|@ ]+$/;

/** Parse one constraint; returns an error message instead of throwing. */
export function parseConstraint(expr: string): Constraint | string {
  const m = /^\s*([^=!\s]+)\s*(==|!=)\s*(.*?)\s*$/.exec(expr);
  if (!m) return `invalid constraint "${expr}": expected <attribute>==<value> or <attribute>!=<value>`;
  const [, key, op, value] = m;
  const knownKey = FIXED_KEYS.includes(key) || LABEL_PREFIXES.some((p) => key.startsWith(p) && key.length > p.length);
  if (!knownKey) return `invalid constraint "${expr}": unknown attribute "${key}" (${KEY_HELP})`;
  if (value === '') return `invalid constraint "${expr}": missing value after ${op}`;
  if (!VALUE_RE.test(value) || value.includes('=') ) return `invalid constraint "${expr}": invalid value "${value}"`;
  if (key === 'node.role' && !['manager', 'worker'].includes(value.toLowerCase())) {
    return `invalid constraint "${expr}": node.role is manager or worker, not "${value}"`;
  }
  return { expr, key, op: op as '==' | '!=', value };
}

/** undefined when the expression is a valid constraint, else a message naming what is wrong. */
export function validateConstraint(expr: string): string | undefined {
  const c = parseConstraint(expr);
  return typeof c === 'string' ? c : undefined;
}

/** Parse every constraint; the first error is returned as a string. */
export function parseConstraints(exprs: readonly string[]): Constraint[] | string {
  const out: Constraint[] = [];
  for (const e of exprs) {
    const c = parseConstraint(e);
    if (typeof c === 'string') return c;
    out.push(c);
  }
  return out;
}

const normArch = normaliseArch;

/**
 * The value of a node attribute as constraints and spread preferences see it; undefined when a
 * label is absent.
 */
export function nodeAttribute(node: NodeObj, key: string): string | undefined {
  switch (key) {
    case 'node.id': return node.id;
    case 'node.hostname': return node.description.hostname;
    case 'node.role': return node.spec.role;
    case 'node.platform.os': return node.description.platform.os;
    case 'node.platform.arch': return node.description.platform.arch;
  }
  if (key.startsWith('node.labels.')) return node.spec.labels[key.slice('node.labels.'.length)];
  if (key.startsWith('engine.labels.')) return node.description.engine.labels[key.slice('engine.labels.'.length)];
  return undefined;
}

/** Matching is case-insensitive (as in Swarm); an absent label never equals anything. */
export function matchConstraint(c: Constraint, node: NodeObj): boolean {
  const actual = nodeAttribute(node, c.key);
  let equal: boolean;
  if (actual === undefined) equal = false;
  else if (c.key === 'node.platform.arch') equal = normArch(actual) === normArch(c.value);
  else equal = actual.toLowerCase() === c.value.toLowerCase();
  return c.op === '==' ? equal : !equal;
}

export const matchConstraints = (cs: readonly Constraint[], node: NodeObj): boolean => cs.every((c) => matchConstraint(c, node));

/** True when the node satisfies every expression; an invalid expression matches no node. */
export function nodeSatisfies(exprs: readonly string[], node: NodeObj): boolean {
  const cs = parseConstraints(exprs);
  return typeof cs !== 'string' && matchConstraints(cs, node);
}
