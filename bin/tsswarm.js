#!/usr/bin/env node
// Entry point of the `tsswarm` command: runs the compiled CLI (npm run build).
import('../dist/cli/main.js').then((m) => m.main(process.argv.slice(2))).catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('tsswarm: not built yet; run `npm run build` in the tsswarm checkout');
  } else {
    console.error(err);
  }
  process.exit(1);
});
