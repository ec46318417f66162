// Documented bounds on what a stack, a request or a stack file may hold. The parser, the API's
// schemas and the CLI enforce the same numbers (docs/stack-files.md lists them): a value past a
// bound is refused with the field named, never half-applied, never left to crash a control loop.

export const LIMITS = {
  /** A stack file (each of them, after reading; before parsing). */
  stackFileBytes: 4 << 20,
  /** An HTTP request body. */
  requestBodyBytes: 8 << 20,
  /** Nesting of mappings/sequences in a stack file, and of objects/arrays in a request body. */
  depth: 64,
  /** Stack, service, network and volume names, and a service's full name (<stack>_<service>): a DNS label, as Swarm's. */
  nameLength: 63,
  /** Replicas of one service. */
  replicas: 1000,
  /** Services in one stack. */
  servicesPerStack: 500,
  /** Networks and volumes declared by one stack. */
  resourcesPerStack: 500,
  /** Published ports of one service (after ranges such as 8000-8100:8000-8100 are expanded). */
  portsPerService: 1024,
  /** Environment variables, labels, mounts, networks of one service (each). */
  entriesPerService: 1000,
  /** A secret's value, bytes (as Swarm's: 500 KiB). */
  secretBytes: 500 << 10,
  /** A config's content, bytes (as Swarm's). */
  configBytes: 500 << 10,
  /** Any one string value (an environment value, a command argument, an image name...). */
  stringLength: 64 << 10,
} as const;
