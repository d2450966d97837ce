// node:fs plus a small globSync covering what the conformance suite asks of
// it ("**/name" and "dir/*.ext" style patterns relative to cwd).
import * as fs from 'node:fs';
import * as path from 'node:path';

export * from 'node:fs';
export default fs.default ?? fs;

function toRegExp(pattern) {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
      if (pattern[i + 1] === '/') { re = re.slice(0, -2) + '(?:.*/)?'; i++; }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp('^' + re + '$');
}

export function globSync(pattern, options = {}) {
  const cwd = options.cwd ?? process.cwd();
  const patterns = Array.isArray(pattern) ? pattern : [pattern];
  let entries;
  try {
    entries = fs.readdirSync(cwd, { recursive: true }).map((p) => String(p).split(path.sep).join('/'));
  } catch {
    return [];
  }
  const res = patterns.map(toRegExp);
  return entries.filter((e) => res.some((r) => r.test(e))).sort();
}
