#!/usr/bin/env node
// Entry point of the `tsswarm` command: runs the compiled launcher (npm run build), which
// starts a daemon (manager, agent) or runs a CLI command.
import('../dist/launcher/main.js').then((m) => m.launch(process.argv.slice(2))).catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('tsswarm: not built yet; run `npm run build` in the tsswarm checkout');
  } else {
    console.error(err);
  }
  process.exit(1);
});
