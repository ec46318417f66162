// A build the CLI asked of this node (`--builder-node`, docs/images.md). The manager tells the
// session (BuildStart); the session opens a Build call, and this runs it: the first message
// down is the options, then the context (a tar) flows straight into the engine's build API
// (the classic builder, as the CLI's local build), the call paused while the engine has not
// taken what came. The engine's output goes back up as it comes, event by event, then the
// result: the image ID the name now points at, or the error. The image stays on this node's
// engine; the other nodes fetch it from here (agent/exec/images.ts).

import { PassThrough, Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import { buildQuery, type BuildEngineEvent, type BuildOptionsWire } from '../../common/api/builds.js';
import type { BuildDown__Output } from '../../proto/gen/tsswarm/dispatcher/v1/BuildDown.js';
import type { BuildUp } from '../../proto/gen/tsswarm/dispatcher/v1/BuildUp.js';
import { engineMessage } from './container.js';

/** A Build call as the agent sees it (grpc-js's client duplex stream). */
export interface BuildStream {
  write(m: BuildUp): boolean;
  end(): void;
  on(ev: 'data', fn: (m: BuildDown__Output) => void): unknown;
  on(ev: 'end' | 'close', fn: () => void): unknown;
  on(ev: 'error', fn: (e: Error) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  cancel(): void;
}

export class NodeBuilder {
  constructor(private readonly docker: Dockerode, private readonly log: Logger) {}

  /** Serve the Build call `call` opened for `requestId`. Never throws: failures go up as the result. */
  run(requestId: string, call: BuildStream): Promise<void> {
    return new Promise((settle) => {
      const body = new PassThrough();
      const abort = new AbortController();
      let options: BuildOptionsWire | undefined;
      let done = false;
      let failure: string | undefined;
      let id: string | undefined;
      const finish = (result: { image_id?: string; error?: string }) => {
        if (done) return;
        done = true;
        try {
          call.write({ result });
          call.end();
        } catch { /* the call is gone */ }
        this.log.info({ build: requestId, image: options?.image, ...result }, 'build ended');
        settle();
      };
      const up = (e: BuildEngineEvent) => { if (!done) call.write({ event_json: JSON.stringify(e) }); };

      const start = (o: BuildOptionsWire) => {
        options = o;
        this.log.info({ build: requestId, image: o.image, service: o.service }, 'building an image');
        const input = o.remote ? Readable.from([]) : body;
        const query = { ...buildQuery(o), abortSignal: abort.signal };
        void this.docker.buildImage(input as unknown as NodeJS.ReadableStream, query as Dockerode.ImageBuildOptions).then((stream) => {
          this.docker.modem.followProgress(stream, (err: Error | null) => {
            if (err) failure ??= engineMessage(err);
            void this.result(o, failure, id).then(finish);
          }, (ev: BuildEngineEvent) => {
            up(ev);
            if (ev.aux?.ID) id = ev.aux.ID;
            if (ev.error) failure ??= ev.errorDetail?.message ?? ev.error;
          });
        }, (err: unknown) => finish({ error: engineMessage(err) }));
      };

      call.on('data', (m) => {
        if (done) return;
        if (!options) {
          try {
            start(JSON.parse(m.options_json) as BuildOptionsWire);
          } catch (err) {
            finish({ error: `bad build options: ${(err as Error).message}` });
          }
          return;
        }
        if (m.data?.length && !body.write(m.data)) {
          call.pause();
          body.once('drain', () => call.resume());
        }
        if (m.eof) body.end();
      });
      const gone = (why: string) => {
        if (done) return;
        done = true;
        abort.abort();
        body.destroy();
        this.log.warn({ build: requestId, image: options?.image, err: why }, 'build cut');
        settle();
      };
      call.on('error', (e) => gone(e.message));
      call.on('end', () => gone('the manager ended the build'));
      call.write({ request_id: requestId });
    });
  }

  private async result(o: BuildOptionsWire, failure: string | undefined, id: string | undefined): Promise<{ image_id?: string; error?: string }> {
    if (failure !== undefined) return { error: failure.trim() };
    try {
      const info = await this.docker.getImage(o.image).inspect();
      if (id && id !== info.Id) return { error: `image ${o.image} is ${info.Id}, not the ${id} just built (built again meanwhile?)` };
      return { image_id: info.Id };
    } catch (err) {
      return { error: `the build ended but image ${o.image} is not on the engine (${engineMessage(err)})` };
    }
  }
}
