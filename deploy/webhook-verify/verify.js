// Verifies an mprtc-server webhook: `verify` is the README's five-line example; the rest lets
// the server's tests (and you) run it: MPRTC_WEBHOOK_SECRET=... node verify.js TIMESTAMP
// SIGNATURE < body.json exits 0 when the signature is good and recent, 1 otherwise.
'use strict';
const crypto = require('crypto');

function verify(secret, timestamp, signature, body) {
  const mac = crypto.createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
  const want = Buffer.from(`v1=${mac}`), got = Buffer.from(String(signature));
  const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) <= 300; // neither replayed nor stale
  return fresh && want.length === got.length && crypto.timingSafeEqual(want, got);
}

const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  const ok = verify(process.env.MPRTC_WEBHOOK_SECRET || '', process.argv[2], process.argv[3], Buffer.concat(chunks));
  process.stdout.write(ok ? 'valid\n' : 'invalid\n');
  process.exitCode = ok ? 0 : 1;
});
