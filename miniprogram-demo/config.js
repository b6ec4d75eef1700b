// What the join form starts with on a first run (later runs remember the last form). `scripts/demo`
// writes its own copy with the ports its server got. On a phone, use an address the phone can
// reach: ws://<the computer's LAN address>:7880/ws while developing (DevTools: 不校验合法域名),
// wss://<a domain configured in the admin console>/ws in production.
module.exports = {
  appkey: 'demo',
  server: 'ws://127.0.0.1:7880/ws',
  room: 'demo-room'
};
