// The `tsswarm --help` text.

import { defaultDataDir } from '../common/api/datadir.js';

export const USAGE = `Usage: tsswarm COMMAND

A Swarm-like container orchestrator.

Daemons:
  manager --init [--listen-addr HOST:PORT] [--advertise-addr HOST:PORT] [--restore FILE] [--task-history-limit N]
                                   start a new cluster and its first manager (--restore: from a \`cluster backup\` FILE)
  manager --join HOST:PORT --token TOKEN [--listen-addr HOST:PORT] [--advertise-addr HOST:PORT] --data-dir DIR
                                   join the cluster of the manager at HOST:PORT as a manager (a new, empty data dir)
  manager --force-new-cluster --data-dir DIR
                                   restart a surviving manager as a one-manager cluster (quorum lost for good)
  manager [--data-dir DIR]         restart a manager from its data dir
          every manager: [--data-dir DIR] [--no-agent] [--listen HOST:PORT] [--log-level LEVEL] [--image-keep N]
          --listen-addr: where managers and agents reach it (default 0.0.0.0:4242; \`npm run up\`: 127.0.0.1:4242);
          --advertise-addr: the address others are told (default: the first non-loopback address, that port)
  agent --join HOST:PORT --token TOKEN [--data-dir DIR]   (or the token in $TSSWARM_JOIN_TOKEN; ps never shows it)
                                   run an agent that joins the cluster of the manager at HOST:PORT
  agent --manager ADDR [--data-dir DIR]
                                   run an agent connected to one manager (host:port or unix:///path/dispatcher.sock)
          every agent (and manager's own agent): --image-keep N: revisions of each built image kept on
          the node (default 3, at least 2; 0: never remove)

Stacks:
  config [-c FILE]... [--profile P]... [--env-file F]... [--format yaml|json]
                                   print the normalised stack
  deploy [-c FILE]... [FILE] [NAME] [--profile P]... [--env-file F]... [--detach] [--dry-run] [--timeout 5m]
         [--no-build] [--builder-node NODE] [--resolve-image always|never]
                                   deploy or update a stack, waiting until it converged
                                   (--profile: also deploy the services of profile P; default
                                   COMPOSE_PROFILES, comma-separated; --env-file: variables from
                                   F instead of the .env beside the first file, later files win);
                                   build: services are built first on the engine of DOCKER_HOST and
                                   pinned to their image IDs (--no-build: the images built last;
                                   --builder-node: on that cluster node's engine instead, the
                                   context sent through the manager; no local Docker needed);
                                   other images are pinned as DOCKER_HOST's engine knows them: one
                                   no registry gave it to its ID, any other to its registry digest
                                   (--resolve-image never: names deployed as written)
  build [-c FILE]... [--stack NAME] [--profile P]... [--env-file F]... [--no-cache] [--pull]
        [--builder-node NODE] [SERVICE...]
                                   build the images of the stack's build: services (all, or those named)
                                   on the engine of DOCKER_HOST (or of node NODE), as deploy does, and
                                   deploy nothing
  stack ls [--consistent]          list stacks
  stack ps STACK [--no-trunc] [--consistent]
                                   list the tasks of a stack
  stack rm STACK [--volumes] [--detach] [--timeout 5m]
                                   remove a stack and wait until its tasks stopped (named volumes are kept unless --volumes)

Secrets and configs:
  secret create NAME FILE|- [--label K=V]...
                                   store a secret (- : read it from stdin); up to 500 KiB, sealed by the managers
  secret ls [--format json]        list secrets: name, revision, size (never a value)
  secret inspect NAME...           show secrets as JSON (never a value)
  secret update NAME FILE|- [--label K=V]...
                                   a new value: the next revision; every service using it rolls (update_config)
  secret rm NAME...                remove secrets (refused while a service uses one)
  config create|ls|inspect|update|rm ...
                                   the same for configs (not confidential: \`config inspect\` shows the content)
                                   (a stack file declares its own: secrets: and configs:, file/environment/content)

Services:
  service ls [--stack S] [--consistent]
                                   list services
  service ps SERVICE [--no-trunc] [--filter desired-state=running] [--consistent]
  service inspect SERVICE [--consistent]
                                   show a service as JSON
  service scale SERVICE=N [SERVICE=N...] [--detach]
  service update [--image I] [--env-add K=V] [--env-rm K] [--replicas N] [--publish-add P] [--publish-rm P]
                 [--constraint-add C] [--constraint-rm C] [--update-parallelism N] [--update-order start-first]
                 [--update-delay D] [--update-monitor D] [--update-failure-action pause|continue|rollback]
                 [--update-max-failure-ratio R] [--rollback-*] [--restart-*] [--limit-memory M] [--limit-cpu C]
                 [--node-down-grace D] [--no-resolve-image]
                 [--force] [--dry-run] [--detach] SERVICE
                                   change a service and follow the rolling update (--image is
                                   pinned as deploy pins images; --no-resolve-image: as written)
  service rollback SERVICE [--detach]  restore the previous spec with the rollback_config
  service logs SERVICE [-f] [--tail N] [-t]

Nodes:
  node ls [--consistent]           list nodes
  node inspect NODE|self [--consistent]
                                   show a node as JSON (self: the manager's own)
  node update [--availability active|pause|drain] [--label-add K=V]... [--label-rm K]... NODE
                                   drain moves its tasks off, pause takes no new ones; labels steer constraints
  node promote NODE...             make managers that do not vote (learners) vote again, once caught up
  node demote NODE...              make voting managers stop voting (refused if the rest would not make a quorum)
  node rm [--force] NODE...        remove nodes: a manager once demoted (or --force), a worker once down (or --force)

Cluster:
  cluster status                   the managers: Raft role, voter, reachable, applied index, lag; the quorum, warnings
  cluster join-token worker|manager [-q] [--rotate]
                                   print the command a new agent or manager joins with (-q: the token only;
                                   --rotate: replace the token first)
  cluster backup FILE|- [--force]  write a consistent snapshot of the cluster state to FILE (0600; - : stdout),
                                   for \`manager --init --restore FILE\`; an existing FILE is kept unless --force
  cluster recover                  the commands that bring the cluster back to its number of voting managers
                                   after a loss (exit code 0: nothing to do)
  cluster inspect [--consistent]   show the cluster settings as JSON
  cluster update --task-history-limit N
                                   tasks kept per slot in \`service ps\`, the live one included (default 5)
  cluster update --bind-allow PATH [--bind-allow PATH...] | --bind-allow-any
                                   host paths services may bind-mount (under them only); any path again
  cluster client-cert NAME [--out DIR] [--expiry 90d] [--api-addr HOST:PORT]
                                   a certificate for a remote CLI (at most 365d): the key is made here and never
                                   leaves; writes DIR (default ./tsswarm-NAME, never overwritten): ca.pem,
                                   cert.pem, key.pem (0600), context.json; a second one for NAME replaces the first
  cluster client-cert ls           the client certificates issued: names, expiry, serials
  cluster client-cert rm NAME...   revoke: the managers refuse them from the next request on

Contexts (remote managers over HTTPS):
  context import NAME DIR          keep the bundle in DIR as context NAME (under ~/.tsswarm/contexts, or $TSSWARM_CONFIG)
  context ls                       list the contexts (*: the current one)
  context use NAME                 make NAME the current context (default: the local socket again)
  context rm [--force] NAME...     remove contexts (the current one with --force)

Global options:
  -H, --host URL       manager to talk to: unix:///path/tsswarm.sock, or https://HOST:PORT with a client
                       certificate; default $TSSWARM_HOST, then the current context, then the socket in
                       ${defaultDataDir()}
  --tlscacert FILE --tlscert FILE --tlskey FILE
                       https: the cluster's CA, the client certificate and its key (default: ca.pem,
                       cert.pem, key.pem in $TSSWARM_CERT_PATH, then the context's)
  --context DIR|NAME   a bundle of \`cluster client-cert\` or an imported context (not with --host); without
                       either: $TSSWARM_HOST, then $TSSWARM_CONTEXT, then \`context use\`'s
  --format json        machine-readable output
  --consistent         reads: answered by the leader, up to date (default: by the manager asked, from
                       what it has applied). An answer from a manager that knows no leader is marked,
                       and a warning said on stderr
  --log-level LEVEL    daemons: trace, debug, info, warn, error
  -h, --help           this text (also after any command)
  version              print the version
`;
