import { describe, expect, it } from 'vitest';
import { matchConstraint, parseConstraint, validateConstraint, type Constraint } from '../../../manager/scheduler/index.js';
import { node } from '../orchestrator/fixtures.js';

describe('validateConstraint', () => {
  it.each([
    'node.id==abc', 'node.hostname!=web-1', 'node.role==manager', 'node.role == worker', 'node.labels.zone==eu-west',
    'engine.labels.storage==ssd', 'node.platform.os==linux', 'node.platform.arch!=arm64',
  ])('accepts %s', (e) => expect(validateConstraint(e)).toBeUndefined());

  it.each([
    ['node.role=manager', 'invalid constraint "node.role=manager": expected <attribute>==<value> or <attribute>!=<value>'],
    ['zone==eu', 'invalid constraint "zone==eu": unknown attribute "zone" (use node.id, node.hostname, node.role, node.labels.<name>, engine.labels.<name>, node.platform.os or node.platform.arch)'],
    ['node.labels.==x', 'invalid constraint "node.labels.==x": unknown attribute "node.labels." (use node.id, node.hostname, node.role, node.labels.<name>, engine.labels.<name>, node.platform.os or node.platform.arch)'],
    ['node.hostname==', 'invalid constraint "node.hostname==": missing value after =='],
    ['node.role==boss', 'invalid constraint "node.role==boss": node.role is manager or worker, not "boss"'],
    ['node.labels.a==b==c', 'invalid constraint "node.labels.a==b==c": invalid value "b==c"'],
    ['', 'invalid constraint "": expected <attribute>==<value> or <attribute>!=<value>'],
  ])('rejects %j', (e, msg) => expect(validateConstraint(e)).toBe(msg));
});

describe('matchConstraint', () => {
  const n = node('abc', { hostname: 'Web-1', role: 'manager', labels: { zone: 'eu' }, engineLabels: { disk: 'ssd' }, arch: 'x86_64' });
  const m = (e: string) => matchConstraint(parseConstraint(e) as Constraint, n);
  it.each([
    ['node.id==abc', true], ['node.id!=abc', false], ['node.hostname==web-1', true], ['node.role==manager', true],
    ['node.role!=manager', false], ['node.labels.zone==eu', true], ['node.labels.zone==us', false],
    ['node.labels.rack==1', false], ['node.labels.rack!=1', true], ['engine.labels.disk==ssd', true],
    ['node.platform.os==linux', true], ['node.platform.arch==amd64', true], ['node.platform.arch==x86_64', true],
    ['node.platform.arch==arm64', false],
  ])('%s -> %s', (e, want) => expect(m(e)).toBe(want));
});
