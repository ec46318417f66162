import { describe, expect, it } from 'vitest';
import { imagesToPrune, type BuiltImage } from '../../../agent/worker/prune.js';

const img = (n: number, service = 's_web'): BuiltImage => ({ id: `sha256:${service}-${n}`, service, created: 1000 + n });
/** Revisions 1..n of one service, 1 the oldest. */
const revisions = (n: number, service = 's_web') => Array.from({ length: n }, (_, i) => img(i + 1, service));

describe('imagesToPrune', () => {
  it('keeps the N most recent revisions per service and removes the rest, oldest first', () => {
    const ids = imagesToPrune({ images: revisions(5), usedByContainers: [], assigned: [], keep: 3 });
    expect(ids).toEqual([img(1).id, img(2).id]);
  });

  it('removes nothing while a service has N revisions or fewer', () => {
    expect(imagesToPrune({ images: revisions(3), usedByContainers: [], assigned: [], keep: 3 })).toEqual([]);
  });

  it('never removes an image a container uses (running or stopped)', () => {
    const ids = imagesToPrune({ images: revisions(5), usedByContainers: [img(1).id], assigned: [], keep: 3 });
    expect(ids).toEqual([img(2).id]);
  });

  it('never removes an image a task held by this node is pinned to', () => {
    const ids = imagesToPrune({ images: revisions(5), usedByContainers: [], assigned: [img(2).id], keep: 3 });
    expect(ids).toEqual([img(1).id]);
  });

  it('counts per service: one service\'s revisions never push out another\'s', () => {
    const images = [...revisions(4, 's_web'), ...revisions(2, 's_api')];
    const ids = imagesToPrune({ images, usedByContainers: [], assigned: [], keep: 3 });
    expect(ids).toEqual([img(1, 's_web').id]);
  });

  it('keeps at least the current and the previous revision, whatever keep says', () => {
    expect(imagesToPrune({ images: revisions(4), usedByContainers: [], assigned: [], keep: 0 })).toEqual([img(1).id, img(2).id]);
    expect(imagesToPrune({ images: revisions(4), usedByContainers: [], assigned: [], keep: 1 })).toEqual([img(1).id, img(2).id]);
  });

  it('is bounded per pass (the oldest go first)', () => {
    const ids = imagesToPrune({ images: revisions(10), usedByContainers: [], assigned: [], keep: 3, bound: 2 });
    expect(ids).toEqual([img(1).id, img(2).id]);
  });

  it('an image listed twice (several tags) is one revision', () => {
    const images = [...revisions(3), img(3), img(3)];
    expect(imagesToPrune({ images, usedByContainers: [], assigned: [], keep: 3 })).toEqual([]);
  });

  it('orders equal creation times by ID (deterministic)', () => {
    const images: BuiltImage[] = [
      { id: 'sha256:b', service: 'x', created: 5 },
      { id: 'sha256:a', service: 'x', created: 5 },
      { id: 'sha256:c', service: 'x', created: 5 },
    ];
    expect(imagesToPrune({ images, usedByContainers: [], assigned: [], keep: 2 })).toEqual(['sha256:c']);
  });
});
