'use strict';
// Proves tsconfig.shim.json checks the shim against the mini-program logic layer only: each
// global below exists in browsers or Node but not there, so using one in js-shim/ must fail.
// (If a lib or types change made one of them available, its @ts-expect-error would fail.)

// @ts-expect-error no TextEncoder: the glue gets text-codec.js instead
new TextEncoder();
// @ts-expect-error no TextDecoder
new TextDecoder();
// @ts-expect-error no fetch: wx.request
fetch('https://example.com');
// @ts-expect-error no WebAssembly: WXWebAssembly
WebAssembly.validate(new Uint8Array(0));
// @ts-expect-error no window
window.setTimeout(function () {}, 0);
// @ts-expect-error no document
document.title = '';
// @ts-expect-error no Buffer
Buffer.from('');
// @ts-expect-error no process
process.exit(0);

// What the shim does use is there.
wx.connectSocket({ url: 'wss://example.com/ws' });
WXWebAssembly.instantiate('miniprogram_npm/mprtc/mprtc_bg.wasm', {});
setTimeout(function () {}, 0);
console.error('x');
