// The one key of a published port: two ports with the same key cannot both be published on a
// node (deploy-time conflicts in ingress mode, the scheduler's host-mode filter, `service
// update --publish-rm`).

import type { PortSpec } from '../spec.js';

/** "8080/tcp": the published port and its protocol (the host IP does not make two binds of a port compatible). */
export const publishedPortKey = (p: Pick<PortSpec, 'published' | 'protocol'>): string => `${p.published}/${p.protocol}`;
