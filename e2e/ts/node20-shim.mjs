// Node 20 compatibility for @modelcontextprotocol/conformance@0.2.0-alpha.12,
// which imports fs.globSync (added in Node 22) and crashes at load without it.
// Loaded with `node --import ./ts/node20-shim.mjs`: on Node >= 22 it does
// nothing; on older versions it registers a resolve hook that serves "fs" to
// the conformance package from fs-with-glob.mjs (node:fs plus a globSync).
import { register } from 'node:module';
import * as fs from 'node:fs';

if (typeof fs.globSync !== 'function') {
  register('./fs-hook.mjs', import.meta.url);
}
