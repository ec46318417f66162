/** tsswarm's version, as `tsswarm version` and the manager's /v1/info report it. */
export const VERSION = '0.1.0';
