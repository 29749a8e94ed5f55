// Debian's chromium, headless, as every browser test here launches it (CHROMIUM overrides the path).
import { chromium } from 'playwright-core';

const COMMON_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'];

/** Launches chromium with the common arguments plus `extraArgs`. */
export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [...COMMON_ARGS, ...extraArgs],
  });
}
