'use strict';
// Shared by the console tests: the operator token the test servers get, where Chromium is,
// and the console's address on a server from ../e2e/support.

const fs = require('node:fs');

/** The operator console's token (`console_token`, at least 32 bytes) of the test servers. */
const TOKEN = 'console-operator-token-0123456789abcdef';
/** A `metrics_token` beside it, to show the two tokens open different doors. */
const METRICS_TOKEN = 'console-test-metrics-token-0123456789ab';

/** The system Chromium (Debian's `chromium`, installed by scripts/setup). */
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: run scripts/setup (or set CHROMIUM)`);

/** The HTTP base of a server's signaling listener, where the console is. */
function base(server) {
  return server.endpoints.signal.replace(/^ws/, 'http').replace(/\/ws$/, '');
}

function consoleUrl(server) {
  return base(server) + '/console';
}

module.exports = { TOKEN, METRICS_TOKEN, CHROMIUM, base, consoleUrl };
