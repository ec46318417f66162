// The manager's gRPC server announces a wide HTTP/2 window (images are pushed to it): per
// stream in its SETTINGS, per connection in a WINDOW_UPDATE as the session opens.
import * as grpc from '@grpc/grpc-js';
import { connect } from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { newGrpcServer, SERVER_WINDOW_BYTES } from '../../../manager/dispatcher/dispatcher.js';

describe('the manager gRPC server window', () => {
  let server: grpc.Server | undefined;
  afterEach(() => { server?.forceShutdown(); server = undefined; });

  it('announces SERVER_WINDOW_BYTES per stream and per connection', async () => {
    server = newGrpcServer();
    const port = await new Promise<number>((resolve, reject) => server!.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    const session = connect(`http://127.0.0.1:${port}`);
    try {
      const settings = await new Promise<{ initialWindowSize?: number }>((resolve, reject) => { session.once('remoteSettings', resolve); session.once('error', reject); });
      expect(settings.initialWindowSize).toBe(SERVER_WINDOW_BYTES);
      // The connection window arrives as a WINDOW_UPDATE: a ping's answer comes after it.
      await new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
      expect(session.state.remoteWindowSize).toBe(SERVER_WINDOW_BYTES);
    } finally {
      session.destroy();
    }
  });
});
