// A Raft manager as a separate process, for the real-process tests and the benchmark:
// RaftNode + a key-value state machine + a tiny HTTP API on loopback.
//   node proc-node.js '{"id":1,"dir":"/tmp/x","peers":[[1,"127.0.0.1:7001"],...],"http":"127.0.0.1:8001","bootstrap":[1,2,3]}'
// POST /put?key=K (body = value) -> 200 once applied | 421 {"leader":N} | 503 outcome unknown
// POST /conf?op=addLearner|addNode|removeNode&id=N[&addr=H:P] -> 200 once in the leader's log
// POST /transfer?to=N -> leadership transfer started
// GET /get?key=K -> linearizable read (ReadIndex) | GET /status | GET /stats[?reset] (loop delay,
// GC; with TSSWARM_RAFT_STATS=1). TSSWARM_RAFT_PREALLOCATE=0: WAL segments grow as written.
import { createServer } from 'node:http';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { RaftNode, type StateMachine } from '../../manager/raft/node.js';
import { NotLeaderError, type ConfChangeType } from '../../manager/raft/types.js';

interface Args {
  id: number;
  dir: string;
  peers: [number, string][];
  http: string;
  bootstrap?: number[];
  tickMs?: number;
  snapshotEntries?: number;
  segmentBytes?: number;
  snapshotChunkBytes?: number;
}

const args = JSON.parse(process.argv[2]!) as Args;
const kv = new Map<string, string>();
const dec = new TextDecoder();
// Snapshot: (u32 key length, key, u32 value length, value)*, UTF-8: a large state serialises
// in a few tens of ms where JSON took hundreds.
const sm: StateMachine = {
  apply(data) {
    const { k, v } = JSON.parse(dec.decode(data)) as { k: string; v: string };
    kv.set(k, v);
    return true;
  },
  snapshot() {
    let size = 0;
    for (const [k, v] of kv) size += 8 + Buffer.byteLength(k) + Buffer.byteLength(v);
    const buf = Buffer.allocUnsafe(size);
    let at = 0;
    for (const [k, v] of kv) {
      const kl = buf.write(k, at + 4);
      buf.writeUInt32LE(kl, at);
      at += 4 + kl;
      const vl = buf.write(v, at + 4);
      buf.writeUInt32LE(vl, at);
      at += 4 + vl;
    }
    return buf;
  },
  restore(data) {
    kv.clear();
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    for (let at = 0; at < buf.length; ) {
      const kl = buf.readUInt32LE(at);
      const k = buf.toString('utf8', at + 4, at + 4 + kl);
      at += 4 + kl;
      const vl = buf.readUInt32LE(at);
      kv.set(k, buf.toString('utf8', at + 4, at + 4 + vl));
      at += 4 + vl;
    }
  },
};

const node = new RaftNode({ id: args.id, dir: args.dir, peers: new Map(args.peers), bootstrap: args.bootstrap, sm,
  tickMs: args.tickMs,
  snapshotEntries: args.snapshotEntries,
  transport: { snapshotChunkBytes: args.snapshotChunkBytes },
  wal: { segmentBytes: args.segmentBytes, preallocate: process.env.TSSWARM_RAFT_PREALLOCATE !== '0' },
});
await node.start();

// Where this process's time went (event-loop delay, GC pauses), for diagnosis only: with
// TSSWARM_RAFT_STATS=1. Off by default, since the delay monitor wakes the loop every 1 ms.
function startStats(): { json(): unknown; reset(): void } {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const fresh = () => ({ count: 0, totalMs: 0, maxMs: 0, over5ms: 0, byKind: {} as Record<string, number> });
  let gc = fresh();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.count++;
      gc.totalMs += e.duration;
      gc.maxMs = Math.max(gc.maxMs, e.duration);
      if (e.duration > 5) gc.over5ms++;
      const kind = String((e as { detail?: { kind?: number } }).detail?.kind ?? '?');
      gc.byKind[kind] = (gc.byKind[kind] ?? 0) + 1;
    }
  }).observe({ entryTypes: ['gc'] });
  const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
  return {
    json: () => ({ loopDelay: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) }, gc, keys: kv.size, heapMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20) }),
    reset: () => {
      loop.reset();
      gc = fresh();
    },
  };
}
const stats = process.env.TSSWARM_RAFT_STATS === '1' ? startStats() : undefined;

const [host, port] = args.http.split(':');
const server = createServer((req, res) => {
  const url = new URL(req.url!, 'http://x');
  const send = (code: number, body: unknown): void => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const fail = (e: Error): void => {
    if (e instanceof NotLeaderError) send(421, { error: e.message, leader: e.leader });
    else send(503, { error: e.message });
  };
  if (url.pathname === '/stats' && stats) {
    send(200, stats.json());
    if (url.searchParams.has('reset')) stats.reset();
    return;
  }
  if (url.pathname === '/status') {
    send(200, {
      id: args.id,
      role: node.role,
      lead: node.leader,
      term: node.core.term,
      commit: node.core.log.committed,
      applied: node.core.log.applied,
      snapIndex: node.disk.mem.snapshot().meta.index,
      snapshotsInstalled: node.snapshotsInstalled,
      voters: node.membership.voters,
      learners: node.membership.learners,
    });
    return;
  }
  if (url.pathname === '/conf' && req.method === 'POST') {
    // op = addLearner | addNode | removeNode; addr: where the added member listens
    const type = url.searchParams.get('op') as ConfChangeType;
    const nodeId = Number(url.searchParams.get('id'));
    node.proposeConfChange({ changes: [{ type, nodeId }], context: url.searchParams.get('addr') ?? undefined }).then((r) => send(200, r), fail);
    return;
  }
  if (url.pathname === '/transfer' && req.method === 'POST') {
    node.transferLeadership(Number(url.searchParams.get('to')));
    send(200, { ok: true });
    return;
  }
  if (url.pathname === '/get') {
    node.readIndex().then(() => send(200, { value: kv.get(url.searchParams.get('key')!) ?? null }), fail);
    return;
  }
  if (url.pathname === '/put' && req.method === 'POST') {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const v = Buffer.concat(chunks).toString();
      node.propose(new TextEncoder().encode(JSON.stringify({ k: url.searchParams.get('key'), v }))).then(() => send(200, { ok: true }), fail);
    });
    return;
  }
  send(404, { error: 'not found' });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(port), host, () => process.stdout.write(`ready ${args.id}\n`));
process.on('SIGTERM', () => {
  void node.stop().then(() => process.exit(0));
});
