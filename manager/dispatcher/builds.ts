// Builds on a cluster node (`--builder-node`, docs/images.md), relayed by the leader: the API
// begins one (the node is told with BuildStart on its session and opens a Build call), feeds it
// the context chunk by chunk (each chunk waits until the node's call takes it: memory stays
// bounded), then ends the context and relays the engine's output and the result to the API's
// answer. Either side going away ends the other: the node's session or call ends → the build
// fails naming it; the CLI goes away (or stops sending) → the node's call is cancelled.

import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { BUILD_CONTEXT_MAX_BYTES, type BuildEngineEvent, type BuildOptionsWire } from '../../common/api/builds.js';
import { newId } from '../../common/ids.js';
import type { BuildDown } from '../../proto/gen/tsswarm/dispatcher/v1/BuildDown.js';
import type { BuildUp__Output } from '../../proto/gen/tsswarm/dispatcher/v1/BuildUp.js';
import type { ManagerMessage } from '../../proto/gen/tsswarm/dispatcher/v1/ManagerMessage.js';

export type BuildCall = grpc.ServerDuplexStream<BuildUp__Output, BuildDown>;

/** How long the node has to open its Build call. */
export const BUILD_OPEN_TIMEOUT_MS = 10_000;
/** How long a build waits for the CLI's next chunk (or its end). */
export const BUILD_IDLE_MS = 60_000;
/** Events kept while nobody reads them yet (before the context's end). */
const MAX_BUFFERED_EVENTS = 1000;

export interface BuildRelayHost {
  log: Logger;
  send(nodeId: string, msg: ManagerMessage): boolean;
  hostname(nodeId: string): string;
}

export type BuildOutcome = { imageId: string } | { error: string };

export interface BuildSink {
  event(e: BuildEngineEvent): void;
  end(o: BuildOutcome): void;
}

interface Pending {
  id: string;
  nodeId: string;
  service: string;
  call?: BuildCall;
  opened?: () => void;
  received: number;
  buffered: BuildEngineEvent[];
  sink?: BuildSink;
  outcome?: BuildOutcome;
  idle?: NodeJS.Timeout;
  finished: boolean;
}

export class BuildRelay {
  private readonly builds = new Map<string, Pending>();

  constructor(private readonly host: BuildRelayHost) {}

  /** Start a build on `nodeId`: resolves with its id once the node's call is open and has the options. */
  begin(nodeId: string, options: BuildOptionsWire, openTimeoutMs = BUILD_OPEN_TIMEOUT_MS): Promise<string> {
    const id = newId();
    const b: Pending = { id, nodeId, service: options.service, received: 0, buffered: [], finished: false };
    this.builds.set(id, b);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.drop(b, 'did not open in time');
        reject(new Error(`node ${this.host.hostname(nodeId)} did not start the build within ${openTimeoutMs / 1000} s`));
      }, openTimeoutMs);
      b.opened = () => {
        clearTimeout(timer);
        b.call!.write({ options_json: JSON.stringify(options) });
        this.touch(b);
        resolve(id);
      };
      if (!this.host.send(nodeId, { build_start: { request_id: id } })) {
        clearTimeout(timer);
        this.builds.delete(id);
        reject(new Error(`node ${this.host.hostname(nodeId)} has no agent session`));
      }
    });
  }

  /** The next bytes of the context: resolves with the total received once the node's call took them. */
  async chunk(id: string, data: Buffer): Promise<number> {
    const b = this.get(id);
    if (b.sink) throw new Error(`build ${id}: its context is complete already`);
    if (b.received + data.length > BUILD_CONTEXT_MAX_BYTES) {
      this.fail(b, `the build context is larger than ${BUILD_CONTEXT_MAX_BYTES >> 20} MiB`);
      throw new Error(`build of service ${b.service}: the context is larger than the ${BUILD_CONTEXT_MAX_BYTES >> 20} MiB a build through the API takes`);
    }
    b.received += data.length;
    this.touch(b);
    const call = b.call!;
    if (data.length && !call.write({ data })) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => { call.off('cancelled', onGone); resolve(); };
        const onGone = () => { call.off('drain', onDrain); reject(new Error(`node ${this.host.hostname(b.nodeId)} went away while taking the context`)); };
        call.once('drain', onDrain);
        call.once('cancelled', onGone);
      });
    }
    if (b.outcome && 'error' in b.outcome) throw new Error(b.outcome.error);
    return b.received;
  }

  /** The context is complete: the engine's output and the outcome go to `sink` (what came already first). */
  finish(id: string, sink: BuildSink): () => void {
    const b = this.get(id);
    if (b.sink) throw new Error(`build ${id} is being read already`);
    b.sink = sink;
    clearTimeout(b.idle);
    for (const e of b.buffered.splice(0)) sink.event(e);
    if (b.outcome) { this.end(b); return () => undefined; }
    b.call?.write({ eof: true });
    return () => { if (!b.finished) this.fail(b, 'the client went away'); };
  }

  /** A node opened its Build call (`nodeId`: the caller's certificate's node). */
  onCall(call: BuildCall, nodeId: string): void {
    call.on('error', () => undefined);
    let b: Pending | undefined;
    call.on('data', (m: BuildUp__Output) => {
      if (!b) {
        const found = this.builds.get(m.request_id);
        if (!found || found.call || found.nodeId !== nodeId) {
          call.emit('error', Object.assign(new Error('no build was asked of this node under that request id'), { code: grpc.status.PERMISSION_DENIED, details: 'no build was asked of this node under that request id' }));
          return;
        }
        b = found;
        b.call = call;
        b.opened?.();
        return;
      }
      if (b.finished) return;
      if (m.event_json) {
        let e: BuildEngineEvent;
        try { e = JSON.parse(m.event_json) as BuildEngineEvent; } catch { return; }
        if (b.sink) b.sink.event(e);
        else if (b.buffered.length < MAX_BUFFERED_EVENTS) b.buffered.push(e);
      }
      if (m.result) {
        b.outcome = m.result.error ? { error: m.result.error } : m.result.image_id ? { imageId: m.result.image_id } : { error: 'the node sent no image ID' };
        if (b.sink) this.end(b);
      }
    });
    const gone = () => { if (b && !b.finished && !b.outcome) this.fail(b, `node ${this.host.hostname(nodeId)} ended the build without a result`); };
    call.on('end', () => { gone(); call.end(); });
    call.on('cancelled', gone);
  }

  /** A node's session ended: its builds fail. */
  sessionEnded(nodeId: string): void {
    for (const b of [...this.builds.values()]) if (b.nodeId === nodeId && !b.finished) this.fail(b, `node ${this.host.hostname(nodeId)} went away during the build`);
  }

  /** Builds in progress (tests). */
  get size(): number { return this.builds.size; }

  private get(id: string): Pending {
    const b = this.builds.get(id);
    if (!b || b.finished || !b.call) throw new Error(`no build ${id} in progress on this manager`);
    return b;
  }

  private touch(b: Pending): void {
    clearTimeout(b.idle);
    b.idle = setTimeout(() => this.fail(b, `the context did not come within ${BUILD_IDLE_MS / 1000} s`), BUILD_IDLE_MS);
  }

  private fail(b: Pending, why: string): void {
    if (b.finished) return;
    b.outcome ??= { error: why };
    // The node stops building (its call ends with the reason).
    const call = b.call as (BuildCall & { cancelled?: boolean }) | undefined;
    if (call && !call.cancelled) call.emit('error', Object.assign(new Error(why), { code: grpc.status.CANCELLED, details: why }));
    if (b.sink) { this.end(b); return; }
    // Nobody reads it yet: the outcome waits for finish() (or the next chunk says it).
    this.host.log.warn({ build: b.id, node: b.nodeId, service: b.service, err: why }, 'build on a node failed');
    clearTimeout(b.idle);
    b.idle = setTimeout(() => this.drop(b, why), BUILD_IDLE_MS);
  }

  private end(b: Pending): void {
    if (b.finished) return;
    this.close(b);
    const o = b.outcome!;
    this.host.log.info({ build: b.id, node: b.nodeId, service: b.service, bytes: b.received, ...o }, 'build on a node ended');
    b.sink?.end(o);
  }

  private drop(b: Pending, why: string): void {
    this.close(b);
    this.host.log.debug({ build: b.id, why }, 'build dropped');
  }

  /** Forget the build and end the node's call. */
  private close(b: Pending): void {
    b.finished = true;
    clearTimeout(b.idle);
    this.builds.delete(b.id);
    const call = b.call as (BuildCall & { cancelled?: boolean }) | undefined;
    if (call && !call.cancelled && call.writable) try { call.end(); } catch { /* ended already */ }
  }
}
