// The `tsswarm --help` text.

import { defaultDataDir } from '../common/api/datadir.js';

export const USAGE = `Usage: tsswarm COMMAND

A Swarm-like container orchestrator.

Daemons:
  manager [--init [--task-history-limit N]] [--data-dir DIR] [--no-agent] [--listen ADDR] [--log-level LEVEL]
                                   run a manager (with an embedded agent)
  agent --manager ADDR [--data-dir DIR]
                                   run an agent that joins a manager

Stacks:
  config [-c FILE]... [--profile P]... [--format yaml|json]     print the normalised stack
  deploy [-c FILE]... [FILE] [NAME] [--profile P]... [--detach] [--dry-run] [--timeout 5m]
                                   deploy or update a stack, waiting until it converged
                                   (--profile: also deploy the services of profile P; default
                                   COMPOSE_PROFILES, comma-separated)
  stack ls                         list stacks
  stack ps STACK [--no-trunc]      list the tasks of a stack
  stack rm STACK [--volumes] [--detach] [--timeout 5m]
                                   remove a stack and wait until its tasks stopped (named volumes are kept unless --volumes)

Services:
  service ls [--stack S]           list services
  service ps SERVICE [--no-trunc] [--filter desired-state=running]
  service inspect SERVICE          show a service as JSON
  service scale SERVICE=N [SERVICE=N...] [--detach]
  service update [--image I] [--env-add K=V] [--env-rm K] [--replicas N] [--publish-add P] [--publish-rm P]
                 [--constraint-add C] [--constraint-rm C] [--update-parallelism N] [--update-order start-first]
                 [--update-delay D] [--update-monitor D] [--update-failure-action pause|continue|rollback]
                 [--update-max-failure-ratio R] [--rollback-*] [--restart-*] [--limit-memory M] [--limit-cpu C]
                 [--force] [--dry-run] [--detach] SERVICE
                                   change a service and follow the rolling update
  service rollback SERVICE [--detach]  restore the previous spec with the rollback_config
  service logs SERVICE [-f] [--tail N] [-t]

Nodes:
  node ls                          list nodes
  node inspect NODE|self           show a node as JSON (self: the manager's own)

Cluster:
  cluster inspect                  show the cluster settings as JSON
  cluster update --task-history-limit N
                                   tasks kept per slot in \`service ps\`, the live one included (default 5)
  cluster update --bind-allow PATH [--bind-allow PATH...] | --bind-allow-any
                                   host paths services may bind-mount (under them only); any path again

Global options:
  -H, --host URL       manager to talk to (unix:///path/tsswarm.sock); default $TSSWARM_HOST,
                       then the socket in ${defaultDataDir()}
  --format json        machine-readable output
  --log-level LEVEL    daemons: trace, debug, info, warn, error
  -h, --help           this text (also after any command)
  version              print the version
`;
