// Plain JavaScript mini-program code, as the README shows it, checked against the declarations
// (checkJs): editors give JS users the same help.
const YunXinMiniappSDK = require('mprtc');

const client = YunXinMiniappSDK.Client({
  appkey: 'demo',
  debug: true,
  server: 'wss://rtc.example.com/ws',
});
client.on('stream-added', ({ uid, mediaType }) => {
  client.subscribe(uid, mediaType).then(({ url, flvUrl }) => console.log(url, flvUrl));
});
client.on('stream-removed', ({ uid, mediaType }) => console.log(uid, mediaType));
client.on('clientLeave', ({ uid, reason }) => console.log(uid, reason));

client
  .init()
  .then(() => client.join({ channelName: 'room1', uid: 100, token: 'jwt' }))
  .then(() => client.publish())
  .then((url) => console.log(url.length))
  .catch((/** @type {import('mprtc').MprtcError} */ e) => console.log(e.code, e.reason, e.field));

// @ts-expect-error JS callers are checked too: mediaType is 'audio' | 'video'
client.publish('screen');
