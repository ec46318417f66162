// One in-flight operation per key (a task), different keys concurrently; a limiter bounds how
// many engine-heavy operations run at once.

export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next(); // hand the slot over
      else this.active--;
    }
  }
}

/**
 * Per-key serialisation with coalescing: scheduling a key that already has a run waiting
 * (not yet started) is a no-op, since the run reads the current desired state when it starts.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly waiting = new Set<string>();
  private readonly runningKeys = new Set<string>();

  constructor(private readonly onError: (key: string, err: unknown) => void) {}

  schedule(key: string, fn: (key: string) => Promise<void>): void {
    if (this.waiting.has(key)) return;
    this.waiting.add(key);
    const prev = this.tails.get(key) ?? Promise.resolve();
    const p: Promise<void> = prev.then(async () => {
      this.waiting.delete(key);
      this.runningKeys.add(key);
      try {
        await fn(key);
      } catch (err) {
        this.onError(key, err);
      } finally {
        this.runningKeys.delete(key);
      }
    }).finally(() => {
      if (this.tails.get(key) === p) this.tails.delete(key);
    });
    this.tails.set(key, p);
  }

  isRunning(key: string): boolean {
    return this.runningKeys.has(key);
  }

  /** Resolves when every operation scheduled so far has finished. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.allSettled([...this.tails.values()]);
  }
}
