// Type declarations of mprtc's ZEGO dialect (`new ZegoExpressEngine(appID, server)`), the ZEGO
// Express mini-program API over mprtc. A file of its own so that each declaration file stays
// readable; index.d.ts re-exports every name here, so apps import them from 'mprtc' as before.

import type { ClientOptions } from './index';
import type { NetStatusInfo, StateChangeReport } from './reports';

/** ZEGO room states (`roomStateUpdate`). */
export type ZegoRoomState = 'DISCONNECTED' | 'CONNECTING' | 'CONNECTED';

/** ZEGO `roomStateChanged` reasons. */
export type ZegoRoomStateReason =
  | 'LOGINING'
  | 'LOGINED'
  | 'LOGIN_FAILED'
  | 'RECONNECTING'
  | 'RECONNECTED'
  | 'RECONNECT_FAILED'
  | 'KICKOUT'
  | 'LOGOUT';

export interface ZegoUser {
  userID: string;
  userName?: string;
}

export interface ZegoStreamInfo {
  streamID: string;
  user: ZegoUser;
  extraInfo: string;
}

export interface ZegoStreamResult {
  streamID: string;
  /** For `<live-pusher url>` / `<live-player src>`. */
  url: string;
}

export interface ZegoPublisherState {
  streamID: string;
  state: 'NO_PUBLISH' | 'PUBLISH_REQUESTING' | 'PUBLISHING';
  /** 0, or the component's failure code (-1307, ...). */
  errorCode: number;
  extendedData: string;
  /** With `PUBLISH_REQUESTING` after the SDK recovered a failed pusher: the new push URL. */
  url?: string;
}

export interface ZegoPlayerState {
  streamID: string;
  state: 'NO_PLAY' | 'PLAY_REQUESTING' | 'PLAYING';
  errorCode: number;
  extendedData: string;
  /** With `PLAY_REQUESTING` after the SDK recovered a failed player: the new play URL. */
  url?: string;
}

/** A quality sample: the `bindnetstatus` fields, plus ZEGO-style `video` / `audio` groups. */
export type ZegoQualityStats = NetStatusInfo & {
  video: { videoBitrate?: number; videoFPS?: number; frameWidth?: number; frameHeight?: number };
  audio: { audioBitrate?: number };
};

export interface ZegoEventMap {
  roomStateUpdate: (roomID: string, state: ZegoRoomState, errorCode: number, extendedData: string) => void;
  roomStateChanged: (roomID: string, reason: ZegoRoomStateReason, errorCode: number, extendedData: string) => void;
  roomUserUpdate: (roomID: string, updateType: 'ADD' | 'DELETE', userList: ZegoUser[]) => void;
  roomStreamUpdate: (roomID: string, updateType: 'ADD' | 'DELETE', streamList: ZegoStreamInfo[], extendedData: string) => void;
  publisherStateUpdate: (result: ZegoPublisherState) => void;
  playerStateUpdate: (result: ZegoPlayerState) => void;
  publishQualityUpdate: (streamID: string, stats: ZegoQualityStats) => void;
  playQualityUpdate: (streamID: string, stats: ZegoQualityStats) => void;
  tokenWillExpire: (roomID: string) => void;
  IMRecvBroadcastMessage: (roomID: string, chatData: ZegoBroadcastMessageInfo[]) => void;
  IMRecvBarrageMessage: (roomID: string, messageInfo: ZegoBarrageMessageInfo[]) => void;
  IMRecvCustomCommand: (roomID: string, fromUser: ZegoUser, command: string) => void;
  /** A member's stream extra info changed (or, right after login, is already set). */
  streamExtraInfoUpdate: (roomID: string, streamList: ZegoStreamInfo[]) => void;
  /** A room extra info key changed (or, right after login, is already set). */
  roomExtraInfoUpdate: (roomID: string, roomExtraInfoList: ZegoRoomExtraInfo[]) => void;
  /** The members in the room, this one included, after login and each join or leave. */
  roomOnlineUserCountUpdate: (roomID: string, count: number) => void;
  /** A mixer task's output state: PUBLISHING (505), PUBLISH_REQUESTING with the reason (506, retrying), NO_PUBLISH (ended). */
  mixerRelayCDNStateUpdate: (taskID: string, infoList: { url: string; state: 'PUBLISHING' | 'PUBLISH_REQUESTING' | 'NO_PUBLISH'; updateReason: string; stateTime: number }[]) => void;
}

/** ZEGO's mixer task, over a push task (see the README, "Push tasks"). */
export interface ZegoMixerTask {
  /** The push task's id: 1 to 64 letters, digits or `_`. */
  taskID: string;
  /** Each stream's rectangle on the canvas, in output pixels; `contentType` 'audio' mixes only its sound, 'video_only' only its picture. */
  inputList: { streamID: string; contentType?: 'video' | 'audio' | 'video_only' | 'VIDEO' | 'AUDIO' | 'VIDEO_ONLY'; layout: { top: number; left: number; bottom: number; right: number } }[];
  /** Exactly one output, an `rtmp://` URL; a stream ID is refused with 1010. */
  outputList: { target: string }[];
  /** The canvas size; `outputBitrate` and `outputFPS` have no effect (the server's encoder settings apply). */
  outputConfig: { outputWidth: number; outputHeight: number; outputBitrate?: number; outputFPS?: number };
}

export interface ZegoRoomExtraInfo {
  key: string;
  value: string;
  updateUser: ZegoUser;
  /** The server's time of it, ms since the epoch. */
  updateTime: number;
}

/** A chat message as `IMRecvBroadcastMessage` gives it. */
export interface ZegoBroadcastMessageInfo {
  fromUser: ZegoUser;
  message: string;
  /** The server's time of it, ms since the epoch. */
  sendTime: number;
  /** The room's number for it. */
  messageID: number;
}

/** A barrage message as `IMRecvBarrageMessage` gives it. */
export type ZegoBarrageMessageInfo = ZegoBroadcastMessageInfo;

/** What the message calls resolve with (a refusal rejects with the MprtcError). */
export interface ZegoMessageResult {
  errorCode: 0;
  messageID: number;
}

/** A component event as ZEGO pages pass it: the whole `e`, or its `detail`. */
export type ZegoComponentEvent = { detail: StateChangeReport | { info: NetStatusInfo } } | StateChangeReport;

/**
 * `new ZegoExpressEngine(appID, server)`: the ZEGO Express mini-program API over mprtc.
 * `appID` is the app key configured on the mprtc-server, `server` its `ws(s)://.../ws` URL.
 */
export interface ZegoExpressEngine {
  getVersion(): string;
  setLogConfig(config: { logLevel?: string; remoteLogLevel?: string; logURL?: string }): boolean;
  setDebugVerbose(enable: boolean): void;
  /** Turns `roomUserUpdate` on (also `loginRoom(..., {userUpdate: true})`). */
  setUserStateUpdate(enable: boolean): boolean;
  on<K extends keyof ZegoEventMap>(event: K, callback: ZegoEventMap[K]): boolean;
  off<K extends keyof ZegoEventMap>(event: K, callback?: ZegoEventMap[K]): boolean;
  /** Resolves `true` once in the room; the token is the mprtc join token for `userID`. */
  loginRoom(roomID: string, token: string, user: ZegoUser, config?: { userUpdate?: boolean }): Promise<boolean>;
  logoutRoom(roomID?: string): Promise<boolean>;
  renewToken(token: string, roomID?: string): Promise<boolean>;
  startPublishingStream(streamID: string, options?: object): Promise<ZegoStreamResult>;
  stopPublishingStream(streamID: string): Promise<boolean>;
  /** Rejects with 4024 when no member publishes `streamID`. */
  startPlayingStream(streamID: string, options?: object): Promise<ZegoStreamResult & { flvUrl: string }>;
  stopPlayingStream(streamID: string): Promise<boolean>;
  mutePublishStreamAudio(mute: boolean): Promise<boolean>;
  mutePublishStreamVideo(mute: boolean): Promise<boolean>;
  /** A chat message to the room (up to 1,024 bytes). */
  sendBroadcastMessage(roomID: string, message: string): Promise<ZegoMessageResult>;
  /** A barrage message to the room (up to 1,024 bytes). */
  sendBarrageMessage(roomID: string, message: string): Promise<ZegoMessageResult>;
  /** A command to the users named (at most 100), or to everyone when `toUserIDs` is empty. */
  sendCustomCommand(roomID: string, command: string, toUserIDs?: string[]): Promise<ZegoMessageResult>;
  /** This member's stream extra info (up to 1,024 bytes), told to everyone in the room and to later joiners. */
  setStreamExtraInfo(streamID: string, extraInfo: string): Promise<{ errorCode: 0 }>;
  /** A room extra info value (key 1 to 32 bytes, value up to 1,024; 10 keys a room). */
  setRoomExtraInfo(roomID: string, key: string, value: string): Promise<{ errorCode: 0 }>;
  /** Starts (or, with a running task's ID, updates) a mix; rejects 1010 / 4024 / 4005 as the README says. */
  startMixerTask(task: ZegoMixerTask): Promise<{ errorCode: 0; extendedData: string }>;
  stopMixerTask(taskID: string): Promise<{ errorCode: 0 }>;
  /** `backgroundColor` 0xRRGGBBAA (alpha ignored) for the next startMixerTask; a `backgroundImage` makes it reject with 1010. */
  setMixerTaskConfig(config: { backgroundColor?: number; backgroundImage?: string }): boolean;
  /** Forwards `bindstatechange` of the pusher (its own streamID) or of a player. */
  updatePlayerState(streamID: string, e: ZegoComponentEvent): void;
  /** Forwards `bindnetstatus` of the pusher or of a player. */
  updatePlayerNetStatus(streamID: string, e: ZegoComponentEvent): void;
  destroyEngine(): void;
  /** ZEGO's older play-state callback: `0` started, `1` stopped. */
  onPlayStateUpdate?: (updatedType: 0 | 1, streamID: string) => void;
}

/** mprtc's optional third argument: the timeouts of {@link ClientOptions}. */
export interface ZegoEngineOptions {
  requestTimeout?: number;
  reconnectTimeout?: number;
  seed?: number;
}

export interface ZegoExpressEngineConstructor {
  new (appID: string | number, server: string, options?: ZegoEngineOptions): ZegoExpressEngine;
  (appID: string | number, server: string, options?: ZegoEngineOptions): ZegoExpressEngine;
}
