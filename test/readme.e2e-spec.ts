/** The README is for newcomers: it starts with the two commands, and its configuration table lists every variable. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

describe('README', () => {
  it('starts with the run and test commands', () => {
    const firstBlock = /```bash\n([\s\S]*?)```/.exec(readme)![1].trim().split('\n');
    expect(firstBlock[0]).toMatch(/^npm ci && npm start\b/);
    expect(firstBlock[1]).toMatch(/^npm test\b/);
  });

  it('documents every environment variable the service reads', () => {
    const source = readFileSync(path.join(ROOT, 'libs/core/src/config/environment-variables.ts'), 'utf8');
    const body = source.slice(source.indexOf('export class EnvironmentVariables'));
    const names = [...body.matchAll(/^\s+([A-Z][A-Z0-9_]+)[?:! =]/gm)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(20);
    const missing = names.filter((n) => !readme.includes(`\`${n}\``));
    expect(missing).toEqual([]);
  });

  it('carries the configuration table exactly as generated from the code (npm run docs:config)', () => {
    const generated = execFileSync(process.execPath, [path.join(ROOT, 'scripts/config-table.js')], { encoding: 'utf8' }).trim();
    const m = /<!-- config-table:start[^>]*-->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme);
    expect(m?.[1]).toBe(generated);
  });

  it('.ci/run calls exactly the README test command', () => {
    expect(readFileSync(path.join(ROOT, '.ci/run'), 'utf8')).toMatch(/^npm test$/m);
  });
});
