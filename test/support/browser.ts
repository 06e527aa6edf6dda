import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Browser, chromium } from 'playwright-core';
import { REPO_ROOT } from './app-process';

/** Where browser tests save screenshots (gitignored). */
export const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');

/**
 * Debian's Chromium (scripts/test.sh installs it when missing), headless, with the flags this machine needs:
 * no sandbox as root, and no background networking (the network is closed; Chromium would keep retrying).
 */
export function launchChromium(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    timeout: 30000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
