// pull_policy on the agent: missing pulls only what the engine lacks, always pulls for every
// task, never fails without pulling. A fake engine counts inspects and pulls.
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import type Dockerode from 'dockerode';
import { Resources } from '../../../agent/exec/resources.js';

function fakeEngine(present: Set<string>) {
  const calls = { pulls: [] as string[] };
  const notFound = Object.assign(new Error('No such image'), { statusCode: 404 });
  const docker = {
    getImage: (name: string) => ({ inspect: async () => (present.has(name) ? { Id: 'sha256:x' } : Promise.reject(notFound)) }),
    pull: async (ref: string) => {
      calls.pulls.push(ref);
      present.add(ref.replace(/:latest$/, ''));
      return {};
    },
    modem: { followProgress: (_s: unknown, done: (err: Error | null, out: unknown[]) => void) => done(null, []) },
  } as unknown as Dockerode;
  return { docker, calls };
}

const log = pino({ level: 'silent' });

describe('pull_policy', () => {
  it('missing (the default) and build: pull only when the engine lacks the image', async () => {
    const { docker, calls } = fakeEngine(new Set(['here']));
    const r = new Resources(docker, log);
    await r.ensureImage('here');
    await r.ensureImage('gone', 'missing');
    await r.ensureImage('gone', 'build');
    expect(calls.pulls).toEqual(['gone:latest']);
  });

  it('always: pulls for every task even when the image is there', async () => {
    const { docker, calls } = fakeEngine(new Set(['here']));
    const r = new Resources(docker, log);
    await r.ensureImage('here', 'always');
    await r.ensureImage('here', 'always');
    expect(calls.pulls).toEqual(['here:latest', 'here:latest']);
  });

  it('never: uses what the engine has, fails naming the policy without pulling', async () => {
    const { docker, calls } = fakeEngine(new Set(['here']));
    const r = new Resources(docker, log);
    await r.ensureImage('here', 'never');
    await expect(r.ensureImage('gone', 'never')).rejects.toThrow('image gone is not on this node and its pull_policy is never');
    expect(calls.pulls).toEqual([]);
  });
});
