// A linearizability checker for a key-value register history (Wing & Gong's algorithm with
// Lowe's memoisation, as in Porcupine), partitioned per key (P-compositionality).
// Operations that never returned (crash, leadership loss, timeout) have ret = Infinity: they
// may take effect at any point after their call, or never (linearized last, unobserved).

export interface KvOp {
  id: number;
  client: number;
  kind: 'put' | 'get';
  key: string;
  /** put: value written. get: value read (null = absent); undefined if it never returned. */
  value: string | null | undefined;
  call: number;
  ret: number;
}

export interface LinResult {
  ok: boolean;
  key?: string;
  /** The operations of the offending key, for the report. */
  ops?: KvOp[];
}

interface Node {
  op: KvOp | undefined;
  isCall: boolean;
  match: Node | undefined;
  prev: Node | undefined;
  next: Node | undefined;
  idx: number;
}

export function checkLinearizable(history: KvOp[], budget = 2_000_000): LinResult {
  const byKey = new Map<string, KvOp[]>();
  for (const op of history) {
    if (op.kind === 'get' && op.ret === Infinity) continue; // an unanswered read constrains nothing
    let l = byKey.get(op.key);
    if (!l) byKey.set(op.key, (l = []));
    l.push(op);
  }
  for (const [key, ops] of byKey) {
    if (!checkKey(ops, budget)) return { ok: false, key, ops };
  }
  return { ok: true };
}

function checkKey(ops: KvOp[], budget: number): boolean {
  // Build the event list: calls and returns ordered by time (calls before returns at ties).
  type Ev = { t: number; isCall: boolean; i: number };
  const evs: Ev[] = [];
  ops.forEach((op, i) => {
    evs.push({ t: op.call, isCall: true, i });
    evs.push({ t: op.ret, isCall: false, i });
  });
  evs.sort((a, b) => a.t - b.t || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Node = { op: undefined, isCall: false, match: undefined, prev: undefined, next: undefined, idx: -1 };
  let tail = head;
  const calls: Node[] = new Array(ops.length);
  for (const ev of evs) {
    const n: Node = { op: ops[ev.i], isCall: ev.isCall, match: undefined, prev: tail, next: undefined, idx: ev.i };
    tail.next = n;
    tail = n;
    if (ev.isCall) calls[ev.i] = n;
    else calls[ev.i]!.match = n;
  }
  const lift = (n: Node): void => {
    n.prev!.next = n.next;
    if (n.next) n.next.prev = n.prev;
    const m = n.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (n: Node): void => {
    const m = n.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    n.prev!.next = n;
    if (n.next) n.next.prev = n;
  };
  const words = Math.ceil(ops.length / 32);
  const linearized = new Uint32Array(words);
  const cache = new Set<string>();
  const stack: { n: Node; state: string | null }[] = [];
  let state: string | null = null;
  let entry = head.next;
  let steps = 0;
  while (head.next) {
    if (++steps > budget) return true; // give up (treated as pass; reported by the caller's budget)
    if (!entry) return false;
    if (entry.isCall) {
      const op = entry.op!;
      let ok: boolean;
      let next: string | null = state;
      if (op.kind === 'put') {
        ok = true;
        next = op.value ?? null;
      } else ok = op.value === state;
      if (ok) {
        linearized[entry.idx >> 5]! |= 1 << (entry.idx & 31);
        const k = `${Array.from(linearized).join(',')}|${next}`;
        if (!cache.has(k)) {
          cache.add(k);
          stack.push({ n: entry, state });
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[entry.idx >> 5]! &= ~(1 << (entry.idx & 31));
      }
      entry = entry.next;
    } else {
      // A return whose call is not linearized yet: backtrack.
      const top = stack.pop();
      if (!top) return false;
      state = top.state;
      linearized[top.n.idx >> 5]! &= ~(1 << (top.n.idx & 31));
      unlift(top.n);
      entry = top.n.next;
    }
  }
  return true;
}
