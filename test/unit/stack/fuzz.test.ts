// Property tests of the parser: whatever the text, it returns a stack the shared validator
// accepts or throws one TsswarmError(STACK_INVALID); never anything else.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { validateStack } from '../../../common/api/validate.js';
import { ErrorCodes, TsswarmError } from '../../../common/errors.js';
import { parse } from './helpers.js';

function check(text: string): void {
  let stack;
  try {
    stack = parse(text, { env: { A: 'x', N: '3' } }).stack;
  } catch (e) {
    if (!(e instanceof TsswarmError) || e.code !== ErrorCodes.STACK_INVALID) throw e;
    return;
  }
  const v = validateStack(stack);
  expect(v.errors).toEqual([]);
}

const budget = { numRuns: 300, interruptAfterTimeLimit: 4000 };

describe('parser fuzzing', () => {
  it('random YAML-ish text', () => {
    const unit = fc.constantFrom(...'ab:-[]{},&*!|>\'"#$%@`\n  \t0129.=/~\\?<'.split(''), 'services:', '\n  web:', '\n    image: ', 'nginx', '${A}', '<<: *x', '&x ', '\u00e9', '\ud800');
    fc.assert(fc.property(fc.string({ unit, maxLength: 200 }), (text) => check(text)), budget);
  });

  it('random compose documents', () => {
    const scalar = fc.oneof(
      fc.constantFrom('nginx', 'Busy Box;$(id)', '80', '8080:80', '1-65535:1-65535', '999.1.1.1:80:80', 'A=B', '', '1e20h', 'SIGFOO', 'root:root:root', '/etc:/x', '../../etc', 'host', '512M', '99999999999999999999999g', '${A}', '$$', 'x-y'),
      fc.integer({ min: -5, max: 70000 }),
      fc.double({ noNaN: false }),
      fc.boolean(),
      fc.constant(null),
      fc.string({ maxLength: 12 }),
    );
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.constantFrom('image', 'target', 'published', 'host_ip', 'name', 'replicas', 'mode', 'x-a', 'k'), tie('v'), { maxKeys: 4 })),
    })).v;
    const serviceKeys = ['image', 'command', 'environment', 'labels', 'ports', 'volumes', 'networks', 'user', 'stop_signal', 'stop_grace_period', 'hostname', 'working_dir', 'healthcheck', 'depends_on', 'deploy', 'restart', 'x-ext'];
    // mostly valid values, so that many documents parse and their output is checked too
    const good = fc.record(
      {
        environment: fc.dictionary(fc.constantFrom('A', 'B_1', 'PATH'), fc.oneof(fc.string({ maxLength: 8 }), fc.integer())),
        labels: fc.array(fc.constantFrom('a=1', 'b', 'com.example.x=y')),
        ports: fc.uniqueArray(fc.constantFrom('80', '8080:80', '127.0.0.1:53:53/udp', '[::1]:8081:81', '9000-9002:9000-9002')),
        volumes: fc.uniqueArray(fc.constantFrom('/etc:/host-etc:ro', './data:/data', '/scratch', '/var/run/docker.sock:/var/run/docker.sock')),
        user: fc.constantFrom('1000', 'app:app', '0:0'),
        stop_signal: fc.constantFrom('SIGTERM', 'INT', '9'),
        stop_grace_period: fc.constantFrom('10s', '1m30s', 5),
        command: fc.constantFrom('echo hi', ['sh', '-c', 'exit 0']),
        deploy: fc.record({ replicas: fc.integer({ min: 0, max: 1000 }), resources: fc.constant({ limits: { memory: '512M', cpus: '0.5' } }) }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    );
    const bad = fc.dictionary(fc.constantFrom(...serviceKeys), value, { maxKeys: 3 });
    const service = fc.tuple(good, fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: bad })).map(([g, b]) => ({ image: 'nginx', ...g, ...b }));
    const doc = fc.record(
      {
        name: fc.oneof({ weight: 5, arbitrary: fc.constant('app') }, { weight: 1, arbitrary: fc.constantFrom('App', 'a'.repeat(70)) }),
        services: fc.dictionary(fc.oneof({ weight: 5, arbitrary: fc.constantFrom('web', 'db', 'w') }, { weight: 1, arbitrary: fc.constantFrom('a/b', 'x'.repeat(64)) }), service, { minKeys: 1, maxKeys: 3 }),
        networks: fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('n', 'default', 'host'), fc.oneof(fc.constant(null), fc.record({ name: fc.constantFrom('host', 'n1', '../x'), external: fc.boolean() }, { requiredKeys: [] }))) }),
        volumes: fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('data', 'v'), fc.oneof(fc.constant(null), fc.record({ name: fc.constantFrom('../../etc', 'ok', 'a/b') }, { requiredKeys: [] }))) }),
      },
      { requiredKeys: ['services'] },
    );
    fc.assert(fc.property(doc, (d) => check(stringify(d))), budget);
  });
});
