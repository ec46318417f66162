// Which built images this node removes: a pure decision (no engine calls here). The I/O is
// images-gc.ts. Only images tsswarm built (labelled with their service by the CLI) are
// considered; per service the `keep` most recent revisions stay (so `service rollback` finds the
// previous image on the node), and so does every image a container still uses or a task held by
// this node is pinned to. See docs/images.md ("Pruning").

/** The least `keep` can be: the current image and the previous one are never removed. */
export const MIN_IMAGE_KEEP = 2;
/** Revisions kept per service unless told otherwise. */
export const DEFAULT_IMAGE_KEEP = 3;
/** At most this many removals per pass (the rest waits for the next pass). */
export const DEFAULT_PRUNE_BOUND = 16;

/** An image tsswarm built for a service, as found on this node's engine. */
export interface BuiltImage {
  id: string;
  /** The service it was built for (`<stack>_<service>`). */
  service: string;
  /** Creation time, seconds (the engine's `Created`). */
  created: number;
}

export interface PruneInput {
  images: BuiltImage[];
  /** Image IDs of every container on the engine, running or stopped. */
  usedByContainers: Iterable<string>;
  /** Image IDs the tasks this node holds are pinned to (any desired state). */
  assigned: Iterable<string>;
  /** Revisions kept per service (raised to MIN_IMAGE_KEEP). */
  keep: number;
  /** At most this many IDs returned (default DEFAULT_PRUNE_BOUND). */
  bound?: number;
}

/** The IDs to remove, oldest first, at most `bound` of them. */
export function imagesToPrune(input: PruneInput): string[] {
  const keep = Math.max(MIN_IMAGE_KEEP, Math.floor(input.keep));
  const bound = Math.max(0, input.bound ?? DEFAULT_PRUNE_BOUND);
  const held = new Set([...input.usedByContainers, ...input.assigned]);
  const byService = new Map<string, BuiltImage[]>();
  const seen = new Set<string>();
  for (const img of input.images) {
    if (seen.has(img.id)) continue; // listed twice (several tags): one image
    seen.add(img.id);
    const list = byService.get(img.service) ?? [];
    list.push(img);
    byService.set(img.service, list);
  }
  const newestFirst = (a: BuiltImage, b: BuiltImage) => b.created - a.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const out: BuiltImage[] = [];
  for (const list of byService.values()) {
    list.sort(newestFirst);
    for (const img of list.slice(keep)) if (!held.has(img.id)) out.push(img);
  }
  out.sort((a, b) => newestFirst(b, a));
  return out.slice(0, bound).map((i) => i.id);
}
