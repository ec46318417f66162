// Configs: the routes of secrets (routes/secrets.ts) for a value that is not confidential.

import type { RoutePlugin } from '../context.js';
import { objectRoutes } from './secrets.js';

export const configRoutes: RoutePlugin = objectRoutes('config');
