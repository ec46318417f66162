// Pure mapping from a task to the engine's create request, and engine errors to user messages.

import { describe, expect, it } from 'vitest';
import { classifyEngineError, createOptions, explainEngineError, shortServiceName } from '../../agent/exec/container.js';
import { makeTask } from './helpers.js';

describe('container mapping', () => {
  it('maps ports, mounts, healthcheck and limits', () => {
    const t = makeTask('shop', 'web', 2, 'n1', {
      command: ['httpd'], entrypoint: ['/bin/sh', '-c'], stop_signal: 'SIGQUIT', stop_grace_period: '500ms',
      ports: [
        { target: 80, published: 8080, protocol: 'tcp', mode: 'ingress' },
        { target: 53, published: 5353, protocol: 'udp', mode: 'host', host_ip: '127.0.0.1' },
        { target: 9000, protocol: 'tcp', mode: 'host' },
      ],
      healthcheck: { test: ['CMD', 'true'], interval: '1m30s', timeout: '500ms', retries: 3, start_period: '2s' },
    });
    const o = createOptions(t, {
      nodeId: 'n1',
      networks: [{ name: 'shop_front', aliases: ['web'] }, { name: 'shop_back', aliases: ['web'] }],
      mounts: [{ type: 'volume', source: 'shop_data', target: '/data', readOnly: true }],
    });
    expect(o.name).toBe(`shop_web.2.${t.id}`);
    expect(o.HostConfig?.PortBindings).toEqual({
      '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
      '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
      '9000/tcp': [{ HostIp: '', HostPort: '' }],
    });
    expect(o.HostConfig?.RestartPolicy).toEqual({ Name: 'no' });
    expect(o.HostConfig?.NetworkMode).toBe('shop_front');
    expect(o.NetworkingConfig?.EndpointsConfig).toEqual({ shop_front: { Aliases: ['web'] } });
    expect(o.HostConfig?.Mounts).toEqual([{ Type: 'volume', Source: 'shop_data', Target: '/data', ReadOnly: true }]);
    expect(o.Healthcheck).toEqual({ Test: ['CMD', 'true'], Interval: 90e9, Timeout: 500e6, Retries: 3, StartPeriod: 2e9 });
    expect(o.StopTimeout).toBe(1);
    expect(o.StopSignal).toBe('SIGQUIT');
    expect(o.Entrypoint).toEqual(['/bin/sh', '-c']);
    expect(o.Labels?.['tsswarm.slot']).toBe('2');
  });

  it('names global tasks by node and strips the stack from the service name', () => {
    const t = makeTask('shop', 'agent', 1, 'node9', {}, { slot: undefined });
    expect(createOptions(t, { nodeId: 'node9', networks: [], mounts: [] }).name).toBe(`shop_agent.node9.${t.id}`);
    expect(shortServiceName(t)).toBe('agent');
  });

  it('explains port conflicts with the published port', () => {
    const t = makeTask('s', 'web', 1, 'n', { ports: [{ target: 80, published: 8080, protocol: 'tcp', mode: 'host' }] });
    const e = (message: string) => Object.assign(new Error(`(HTTP code 500) server error - ${message}`), { statusCode: 500, json: { message } });
    expect(explainEngineError(e('driver failed programming external connectivity on endpoint x (abc): Bind for 0.0.0.0:8080 failed: port is already allocated'), t))
      .toBe('port 8080/tcp is already in use on this node');
    expect(explainEngineError(e('driver failed programming external connectivity on endpoint x: Error starting userland proxy: listen tcp4 0.0.0.0:8080: bind: address already in use'), t))
      .toBe('port 8080/tcp is already in use on this node');
    expect(explainEngineError(e('No such image: foo:1'), t)).toBe(`image ${t.spec.image} not found`);
  });

  it('gives every engine error at create or start a TSW_ERR_ code', () => {
    const t = makeTask('s', 'web', 1, 'n', { ports: [{ target: 80, published: 8080, protocol: 'tcp', mode: 'host' }] });
    const e = (message: string) => Object.assign(new Error(message), { statusCode: 500, json: { message } });
    const code = (err: unknown) => classifyEngineError(err, t, 'TSW_ERR_CONTAINER_START_FAILED').errCode;
    expect(code(e('Bind for 0.0.0.0:8080 failed: port is already allocated'))).toBe('TSW_ERR_PORT_IN_USE');
    expect(code(e('No such image: foo:1'))).toBe('TSW_ERR_IMAGE_NOT_FOUND');
    expect(code(e('invalid mount config for type "bind": bind source path does not exist: /x'))).toBe('TSW_ERR_MOUNT_INVALID');
    expect(code(Object.assign(new Error('connect ECONNREFUSED /run/docker.sock'), { code: 'ECONNREFUSED' }))).toBe('TSW_ERR_ENGINE_UNAVAILABLE');
    expect(code(e('OCI runtime create failed: something else'))).toBe('TSW_ERR_CONTAINER_START_FAILED');
    expect(classifyEngineError(e('No such image: foo:1'), t, 'TSW_ERR_CONTAINER_CREATE_FAILED').err).toBe(explainEngineError(e('No such image: foo:1'), t));
  });
});
