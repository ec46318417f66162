// `node update` as a pure patch of a node's spec (docker node update's flags): availability,
// labels removed then added. The request's shapes are checked by the route's schema
// (schemas.ts); here: what each field means, every problem named, nothing half-applied.

import { NODE_LABEL_BOUNDS, checkNodeLabelKey, parseNodeLabel } from '../../common/api/validate.js';
import { ErrorCodes, TsswarmError, type ErrorDetail } from '../../common/errors.js';
import type { NodeUpdateRequest } from '../../common/api/types.js';
import type { NodeObj } from '../store/types.js';

/**
 * The node with the update applied (the same object when nothing changes). Removing a label
 * the node does not have is an error naming it (as docker's); so is a key both removed and added.
 */
export function applyNodeUpdate(node: NodeObj, req: NodeUpdateRequest, now: number): NodeObj {
  const errors: ErrorDetail[] = [];
  const bad = (field: string, message: string) => errors.push({ field, message });
  if (req.version !== undefined && req.version !== node.meta.version) {
    throw new TsswarmError(ErrorCodes.CONFLICT, `node ${node.description.hostname} changed meanwhile (version ${node.meta.version}, not ${req.version}); nothing was changed`);
  }
  const labels = { ...node.spec.labels };
  const removed = new Set<string>();
  for (const k of req.labelRm ?? []) {
    const why = checkNodeLabelKey(k);
    if (why) bad('labelRm', why);
    else if (!Object.hasOwn(node.spec.labels, k)) bad('labelRm', `node ${node.description.hostname} has no label ${k}`);
    else { delete labels[k]; removed.add(k); }
  }
  for (const kv of req.labelAdd ?? []) {
    const l = parseNodeLabel(kv);
    if (typeof l === 'string') bad('labelAdd', l);
    else if (removed.has(l.key)) bad('labelAdd', `label ${l.key} is both removed and added`);
    else labels[l.key] = l.value;
  }
  if (Object.keys(labels).length > NODE_LABEL_BOUNDS.perNode) bad('labelAdd', `a node holds at most ${NODE_LABEL_BOUNDS.perNode} labels`);
  if (errors.length) throw new TsswarmError(ErrorCodes.INVALID_ARGUMENT, 'invalid node update; nothing was changed', errors);
  const availability = req.availability ?? node.spec.availability;
  if (availability === node.spec.availability && sameLabels(labels, node.spec.labels)) return node;
  return { ...node, meta: { ...node.meta, updatedAt: now }, spec: { ...node.spec, availability, labels } };
}

const sameLabels = (a: Record<string, string>, b: Record<string, string>): boolean =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => Object.hasOwn(b, k) && b[k] === v);
