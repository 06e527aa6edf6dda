#!/usr/bin/env node
// Sums the self time of V8 .cpuprofile files (node --cpu-prof) by function and by package/file, and prints the top
// frames: `node scripts/cpuprofile-top.js /tmp/prof/*.cpuprofile [N]`. Idle time is shown apart from busy time.
const fs = require('fs');

const args = process.argv.slice(2);
const top = /^\d+$/.test(args[args.length - 1] ?? '') ? Number(args.pop()) : 25;
if (!args.length) {
  console.error('usage: cpuprofile-top.js FILE.cpuprofile... [N]');
  process.exit(2);
}

const byFrame = new Map();
const byArea = new Map();
let total = 0;
let idle = 0;

/** node_modules/<pkg> (or @scope/pkg), our own lib or app, node: internals, or (native) for V8/libuv frames. */
function area(url) {
  if (!url) return '(native / V8)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const ours = /\/(libs|apps)\/([^/]+)\//.exec(url);
  if (ours) return `${ours[1]}/${ours[2]}`;
  return url.replace(/^.*\//, '');
}

for (const file of args) {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'));
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i] ?? 0) / 1000; // µs → ms
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
  }
  for (const [id, ms] of self) {
    const { functionName, url, lineNumber } = nodes.get(id).callFrame;
    total += ms;
    if (functionName === '(idle)' || functionName === '(program)') {
      if (functionName === '(idle)') idle += ms;
      if (functionName === '(idle)') continue;
    }
    const key = `${functionName || '(anonymous)'} ${url ? url.replace(/^.*node_modules\//, '').replace(/^.*\/(libs|apps)\//, '$1/') : ''}${url ? ':' + (lineNumber + 1) : ''}`;
    byFrame.set(key, (byFrame.get(key) ?? 0) + ms);
    const a = functionName === '(garbage collector)' ? '(garbage collector)' : area(url);
    byArea.set(a, (byArea.get(a) ?? 0) + ms);
  }
}

const busy = total - idle;
const pct = (ms) => ((100 * ms) / busy).toFixed(1).padStart(5) + ' %';
const print = (title, m) => {
  console.log(`\n${title}`);
  for (const [k, ms] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(ms)}  ${ms.toFixed(0).padStart(7)} ms  ${k}`);
};
console.log(`${args.length} profile(s): ${(total / 1000).toFixed(1)} s sampled, ${(busy / 1000).toFixed(1)} s busy (not idle)`);
print('self time by package / area (share of busy time)', byArea);
print('self time by function', byFrame);
