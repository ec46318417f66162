// Log fan-out: one manager request for several tasks becomes one engine log stream per task's
// container; every line is tagged with its task, and `onEnd` fires once, when every stream
// ended (non-follow, or the containers stopped) or on cancel.

import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import type { LogLine, LogRequest } from '../../common/api/logs.js';
import { statusCode } from '../exec/container.js';
import { containerLogs } from '../exec/logs.js';

export interface LogSource {
  docker: Dockerode;
  log: Logger;
  /** The container of a task on this node, if any. */
  containerIdFor(taskId: string): Promise<string | undefined>;
}

/** Stream the logs of `req.taskIds`. Returns the cancel function. */
export function fanOutLogs(src: LogSource, req: LogRequest, onLine: (l: LogLine) => void, onEnd: () => void): () => void {
  const cancels: (() => void)[] = [];
  let pending = req.taskIds.length;
  let cancelled = false;
  let ended = false;
  const done = () => {
    if (ended) return;
    if (--pending <= 0) { ended = true; onEnd(); }
  };
  if (pending === 0) { ended = true; queueMicrotask(onEnd); }
  for (const taskId of req.taskIds) {
    void src.containerIdFor(taskId).then((cid) => {
      if (cancelled) return;
      if (!cid) { done(); return; }
      cancels.push(containerLogs(src.docker.getContainer(cid), req,
        (c) => onLine({ taskId, ...c }),
        (err) => {
          if (err && statusCode(err) !== 404) src.log.debug({ task: taskId, err: err.message }, 'log stream ended');
          done();
        }));
    }, () => done());
  }
  return () => {
    cancelled = true;
    for (const c of cancels) c();
    if (!ended) { ended = true; onEnd(); }
  };
}
