// Where the demo finds mprtc-server. `scripts/demo` writes its own copy with the ports it got;
// on a phone, use an address the phone can reach (wss:// and a domain configured in the
// mini-program's admin console for production).
module.exports = {
  appkey: 'demo',
  server: 'ws://127.0.0.1:7880/ws',
  room: 'demo-room',
};
