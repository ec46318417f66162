import { describe, expect, it } from 'vitest';
import { defaultDeploy, type ServiceSpec } from '../../../common/spec.js';
import { applyServiceUpdate } from '../../../manager/controlapi/service-update.js';
import { diffPaths, needsNewTasks } from '../../../manager/controlapi/deploy.js';

const base = (): ServiceSpec => ({
  image: 'web:1', environment: { A: '1', B: '2' }, labels: {}, networks: { default: { aliases: [] } }, depends_on: {},
  ports: [{ target: 80, published: 8080, protocol: 'tcp', mode: 'ingress' }], volumes: [], deploy: defaultDeploy(),
});

describe('service update flags', () => {
  it('changes image and environment, which replaces tasks', () => {
    const s = applyServiceUpdate(base(), { image: 'web:2', envAdd: ['C=3', 'A=x=y'], envRm: ['B'] });
    expect(s.image).toBe('web:2');
    expect(s.environment).toEqual({ A: 'x=y', C: '3' });
    expect(needsNewTasks(base(), s)).toBe(true);
  });
  it('pins a new image to the ID the client resolved it to; a new name alone drops the old pin; an ID needs a name', () => {
    const ID = `sha256:${'a'.repeat(64)}`;
    const pinned = { ...base(), image_id: `sha256:${'b'.repeat(64)}` };
    expect(applyServiceUpdate(pinned, { image: 'web:2', imageId: ID })).toMatchObject({ image: 'web:2', image_id: ID });
    expect(applyServiceUpdate(pinned, { image: 'web:2' }).image_id).toBeUndefined();
    expect(applyServiceUpdate(pinned, { image: 'web:1' }).image_id).toBe(pinned.image_id);
    expect(() => applyServiceUpdate(base(), { imageId: ID })).toThrow(expect.objectContaining({ details: [expect.objectContaining({ field: 'imageId' })] }));
  });
  it('changes replicas and update settings without replacing tasks', () => {
    const s = applyServiceUpdate(base(), { replicas: 6, update: { parallelism: '2', order: 'start-first', delay: '1500ms', failure_action: 'rollback' } });
    expect(diffPaths(base(), s)).toEqual(['deploy.replicas', 'deploy.update_config.delay', 'deploy.update_config.failure_action', 'deploy.update_config.order', 'deploy.update_config.parallelism']);
    expect(s.deploy.update_config.delay).toBe('1.5s');
    expect(needsNewTasks(base(), s)).toBe(false);
  });
  it('sets the node-down grace without replacing tasks', () => {
    const s = applyServiceUpdate(base(), { nodeDownGrace: '120s' });
    expect(s.deploy['x-node-down-grace']).toBe('2m');
    expect(diffPaths(base(), s)).toEqual(['deploy.x-node-down-grace']);
    expect(needsNewTasks(base(), s)).toBe(false);
    expect(() => applyServiceUpdate(base(), { nodeDownGrace: 'later' })).toThrow(expect.objectContaining({ details: [expect.objectContaining({ field: 'node-down-grace' })] }));
  });
  it('adds and removes published ports and constraints', () => {
    const s = applyServiceUpdate(base(), { publishRm: ['8080'], publishAdd: ['9090:80', '53:53/udp'], constraintAdd: ['node.role==manager'] });
    expect(s.ports.map((p) => `${p.published}/${p.protocol}`)).toEqual(['9090/tcp', '53/udp']);
    expect(s.deploy.placement.constraints).toEqual(['node.role==manager']);
    expect(applyServiceUpdate(s, { constraintRm: ['node.role == manager'] }).deploy.placement.constraints).toEqual([]);
  });
  it('rejects bad flags naming each, and changes nothing', () => {
    const spec = base();
    expect(() => applyServiceUpdate(spec, { envAdd: ['NOEQUALS'], update: { order: 'sideways' }, publishRm: ['7'], restartDelay: 'soon' }))
      .toThrow(expect.objectContaining({ code: 'TSW_ERR_INVALID_ARGUMENT', details: [
        expect.objectContaining({ field: 'env-add' }), expect.objectContaining({ field: 'publish-rm' }),
        expect.objectContaining({ field: 'update-order' }), expect.objectContaining({ field: 'restart-policy' }),
      ] }));
    expect(spec).toEqual(base());
  });
});
