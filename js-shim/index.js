'use strict';
// mprtc mini-program entry: the NetEase-shaped Client (client.js) and the ZEGO-shaped
// ZegoExpressEngine (zego.js), both over the same Rust core.

var client = require('./client.js');
var zego = require('./zego.js');

var SDK = {
  Client: client.Client,
  ZegoExpressEngine: zego.ZegoExpressEngine,
  destroy: client.destroy,
  setWasmPath: client.setWasmPath,
  setServer: client.setServer,
  // Optional preload; Client calls it anyway.
  load: client.load,
  // The stream this mini-program publishes, which a <zego-pusher> names its events with
  // (zego-components.js).
  zegoPushing: zego.pushing
};

module.exports = SDK;
/** @type {any} */ (module.exports).default = SDK;
