// Debian's Chromium, headless, for the browser tests: one place for the path and the flags that
// keep it quiet (no first-run, background or sync traffic) and runnable as root in CI.

import { existsSync } from "node:fs";
import { chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** The launched browser, or `{ error }` saying how to install it. */
export async function launchChromium() {
  if (!existsSync(CHROMIUM)) {
    return { error: `no browser at ${CHROMIUM}: install it with \`apt-get install -y chromium\`` };
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return { browser };
}
