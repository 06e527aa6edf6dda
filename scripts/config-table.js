#!/usr/bin/env node
// Prints the README's configuration table from libs/core/src/config/environment-variables.ts (field, default, doc comment).
const fs = require('fs');
const path = require('path');
const src = fs.readFileSync(path.join(__dirname, '../libs/core/src/config/environment-variables.ts'), 'utf8');
const body = src.slice(src.indexOf('export class EnvironmentVariables'));
const lines = body.split('\n');
const rows = [];
let doc = [];
let inDoc = false;
for (const raw of lines) {
  const line = raw.trim();
  if (line.startsWith('/**')) {
    inDoc = true;
    doc = [];
  }
  if (inDoc) {
    doc.push(line.replace(/^\/\*\*\s?|\*\/$|^\*\s?/g, '').trim());
    if (line.endsWith('*/')) inDoc = false;
    continue;
  }
  if (line.startsWith('//')) {
    doc = [];
    continue;
  }
  const m = /^([A-Z][A-Z0-9_]+)(\?)?(?::\s*[^=;]+)?(?:\s*=\s*(.+?))?;$/.exec(line);
  if (m) {
    let def = m[3] === undefined ? 'unset' : m[3].replace(/^'(.*)'$/, '$1');
    if (/\*\*|\*/.test(def)) {
      try {
        def = String(eval(def));
      } catch {
        /* leave as written */
      }
    }
    rows.push(`| \`${m[1]}\` | ${def === '' ? '(empty)' : '`' + def + '`'} | ${doc.join(' ').replace(/\|/g, '\\|').trim()} |`);
    doc = [];
  }
}
console.log('| Variable | Default | Meaning |\n|---|---|---|\n' + rows.join('\n'));
