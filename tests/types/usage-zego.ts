// A ZEGO-style page against mprtc's declarations, written the way ZEGO's mini-program guide
// writes it (`new ZegoExpressEngine(appID, server)`, callbacks with positional arguments, the
// component events passed whole). It only has to type-check; nothing here runs.

import SDK from 'mprtc';
import type { ZegoExpressEngine, ZegoStreamInfo } from 'mprtc';

const zg: ZegoExpressEngine = new SDK.ZegoExpressEngine(1739272706, 'wss://rtc.example.com/ws');
zg.setLogConfig({ logLevel: 'debug', remoteLogLevel: 'debug', logURL: '' });
zg.setUserStateUpdate(true);

zg.on('roomStateUpdate', (roomID, state, errorCode) => {
  if (state === 'DISCONNECTED' && errorCode !== 0) console.log(roomID, 'left because', errorCode);
});
zg.on('roomStreamUpdate', (roomID: string, updateType, streamList: ZegoStreamInfo[]) => {
  if (updateType === 'ADD') void zg.startPlayingStream(streamList[0].streamID);
  void roomID;
});
zg.on('roomUserUpdate', (_roomID, _type, users) => users.map((u) => u.userID));
zg.on('publisherStateUpdate', ({ streamID, state, errorCode, url }) => {
  if (state === 'NO_PUBLISH' && errorCode === -1307) console.log('pusher gave up', streamID);
  if (url) console.log('new push url', url);
});
zg.on('playerStateUpdate', (r) => r.state === 'PLAYING');
zg.on('publishQualityUpdate', (streamID, stats) => console.log(streamID, stats.video.videoBitrate));
zg.on('playQualityUpdate', (streamID, stats) => console.log(streamID, stats.audio.audioBitrate));
zg.on('tokenWillExpire', (roomID) => void zg.renewToken('new-token', roomID));
zg.onPlayStateUpdate = (type, streamID) => console.log(type === 0 ? 'start' : 'stop', streamID);

async function live(token: string) {
  const ok: boolean = await zg.loginRoom('room1', token, { userID: 'alice', userName: 'Alice' });
  const { streamID, url } = await zg.startPublishingStream('alice-cam');
  const play = await zg.startPlayingStream('bob-cam');
  zg.updatePlayerState(streamID, { detail: { code: 1002, message: 'push started' } });
  zg.updatePlayerNetStatus(play.streamID, { detail: { info: { videoBitrate: 500 } } });
  await zg.mutePublishStreamAudio(true);
  await zg.stopPlayingStream(play.streamID);
  await zg.stopPublishingStream(streamID);
  await zg.logoutRoom('room1');
  zg.destroyEngine();
  return ok && url;
}

// Wrong use is refused.
// @ts-expect-error the room state is one of three strings
zg.on('roomStateUpdate', (_r: string, state: 'GONE') => state);
// @ts-expect-error loginRoom needs the user
void zg.loginRoom('room1', 'token');

// NetEase's Client has mute/unmute and the mute events.
const client = SDK.Client({ appkey: 'demo', server: 'wss://rtc.example.com/ws' });
void client.mute('audio');
client.on('mute-video', ({ uid, isBigNumber }) => console.log(uid, isBigNumber));
client.on('quality', (q) => q.kind === 'push' && q.videoBitrate);
SDK.destroy();

void live;
