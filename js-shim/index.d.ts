// Type declarations for the mprtc mini-program SDK (the CommonJS entry index.js).
//
// They describe what the SDK does today: the calls index.js exposes, the event payloads the
// core emits (src/wasm/mod.rs), the push-task objects it accepts (src/protocol/tasks.rs) and the
// error codes it rejects with (src/protocol/error.rs). Nothing here depends on DOM or Node
// typings: a mini-program project with lib ES2017 and miniprogram-api-typings can use it as is.
//
// index.js does `module.exports = SDK; module.exports.default = SDK`, hence `export =` plus a
// `default` property: `require('mprtc')`, `import SDK = require('mprtc')` and (with
// esModuleInterop) `import SDK from 'mprtc'` all give the same object.

declare namespace mprtc {
  /**
   * A member id as events carry it. Numbers are exact up to 2^53-1 (`Number.MAX_SAFE_INTEGER`);
   * larger ids (up to 2^64-1) come as decimal strings, with `isBigNumber: true`.
   */
  type Uid = number | string;

  /** A bignumber.js value (or anything whose `toFixed()` gives the decimal digits). */
  interface BigNumberLike {
    toFixed(): string;
  }

  /** A member id as calls take it: also a `BigInt` or a bignumber.js value, as NetEase allows. */
  type UidIn = Uid | bigint | BigNumberLike;

  /** One kind of media. Where it is optional, leaving it out means both. */
  type MediaType = 'audio' | 'video';

  /** A member's role. Audience members cannot publish. */
  type Role = 'broadcaster' | 'audience';

  /** Options of {@link ClientConstructor | Client}. */
  interface ClientOptions {
    /** The app key configured on the mprtc-server (`[[apps]] key`). Required. */
    appkey: string;
    /** The mprtc-server's signaling URL, `ws://` or `wss://` (`wss://host/ws`); else {@link MprtcSDK.setServer}'s. */
    server?: string;
    /** Logs each call and each event with `console.debug` (`mprtc: join ...`). */
    debug?: boolean;
    /**
     * Where `WXWebAssembly.instantiate` finds the wasm, relative to the mini-program root;
     * default `miniprogram_npm/mprtc/mprtc_bg.wasm.br`. Module-wide, like
     * {@link MprtcSDK.setWasmPath}.
     */
    wasmPath?: string;
    /**
     * How long (ms) the SDK keeps trying to get a lost connection back before it gives up with
     * `reconnectFailed` and `disconnect`; default 60000. 0: do not reconnect.
     */
    reconnectTimeout?: number;
    /**
     * How long (ms) a call waits for the server's answer before it rejects with 1004 and
     * `sendCommandOverTime` fires; default 10000 (NetEase's `sendCommandOverTime`).
     */
    requestTimeout?: number;
    /** Seeds the reconnect jitter; random by default. For tests that want a fixed schedule. */
    seed?: number;
  }

  /** Parameters of {@link MprtcClient.join}. */
  interface JoinParams {
    /** The room to join. */
    channelName: string;
    /** This member's id; see {@link UidIn}. */
    uid: UidIn;
    /**
     * HS256 join token minted by the app's backend for this app, room and uid. May be left out
     * only for app keys the server runs in debug mode (`insecure`).
     */
    token?: string;
    /**
     * NetEase's interactive-live switch. Accepted either way: mprtc rooms always allow push
     * tasks. Flags take 0/1, booleans or '0'/'1'.
     */
    liveEnable?: NetEaseFlag;
    /**
     * Which recording `recordAudio` / `recordVideo` ask for: 0 or 2 (each member's, the only
     * kind the server makes); 1 (the mix only) with either of them set is refused with 1010
     * `unsupported`: record the mix with a push task (`record: true`).
     */
    recordType?: 0 | 1 | 2 | '0' | '1' | '2';
    /** The server records this member's audio (needs the token's `record` privilege). */
    recordAudio?: NetEaseFlag;
    /** The server records this member's video (needs the token's `record` privilege). */
    recordVideo?: NetEaseFlag;
    /** Refused with 1010 `unsupported` when set. */
    rtmpRecord?: NetEaseFlag;
    /** NetEase's host-speaker mode: refused with 1010 `unsupported` when set. */
    isHostSpeaker?: NetEaseFlag;
    /** NetEase's split-screen recording mode: refused with 1010 `unsupported` when given at all. */
    splitMode?: unknown;
  }

  /** A NetEase on/off option. */
  type NetEaseFlag = 0 | 1 | boolean | '0' | '1';

  /** What {@link MprtcClient.subscribe} resolves with: URLs for `<live-player src>`. */
  interface PlayUrls {
    /** The RTMP play URL. */
    url: string;
    /** The same stream over HTTP-FLV. */
    flvUrl: string;
  }

  // ------------------------------------------------------------------ push tasks

  /** The canvas a push task composes on. */
  interface RtmpTaskCanvas {
    /** Even number from 16 to 1920. */
    width: number;
    /** Even number from 16 to 1920. */
    height: number;
    /** Background as a decimal RGB number, 0 to 16777215 (`0xFFFFFF`); default 0. */
    color?: number;
  }

  /** A room member placed on the canvas. The rectangle must fit inside the canvas. */
  interface RtmpTaskUser {
    /** The member's uid (a JSON number, so at most 2^53-1 here). Each uid at most once. */
    uid: number;
    x: number;
    y: number;
    width: number;
    height: number;
    /** 0 fill the rectangle, 1 fit inside it keeping the aspect ratio (default). */
    adaption?: number;
    /** Stacking order, 0 to 100; default 0. */
    zOrder?: number;
    /** Mix this member's audio; default true. */
    pushAudio?: boolean;
    /** Show this member's video; default true. */
    pushVideo?: boolean;
  }

  /** A picture placed on the canvas. The rectangle must fit inside the canvas. */
  interface RtmpTaskImage {
    /** `http://` or `https://` URL, at most 1024 characters. */
    url: string;
    x: number;
    y: number;
    width: number;
    height: number;
    /** 0 fill the rectangle, 1 fit inside it keeping the aspect ratio (default). */
    adaption?: number;
  }

  /** Where members and pictures go. */
  interface RtmpTaskLayout {
    canvas: RtmpTaskCanvas;
    /** At most 16. */
    users?: RtmpTaskUser[];
    /** At most 4. */
    images?: RtmpTaskImage[];
  }

  /** Audio encoding of the pushed stream. */
  interface RtmpTaskAudioParam {
    /** kbit/s, 10 to 192; default 64. */
    bitRate?: number;
    /** 1 mono or 2 stereo (default). */
    channels?: number;
    /** 0 AAC-LC (default) or 1 HE-AAC. */
    codecProfile?: number;
    /** 32000, 44100 or 48000 (default). */
    sampleRate?: number;
    /** Also accepted here, as NetEase's documentation places it; see {@link RtmpTaskConfig}. */
    singleVideoNoTrans?: boolean;
  }

  interface RtmpTaskConfig {
    audioParam?: RtmpTaskAudioParam;
    /** Push a single member's video without re-encoding (accepted; the compositor decides). */
    singleVideoNoTrans?: boolean;
  }

  /**
   * One push task: compose room members on a canvas and push the result to an RTMP URL. Field
   * names are NetEase's. The server checks every rule (the SDK sends the object as it is, to
   * keep the wasm small); a break rejects with code 4005 and `error.field` naming the field
   * (e.g. `rtmpTasks[0].layout.users[1].x`).
   */
  interface RtmpTask {
    /** 1 to 64 letters, digits or `_`; unique in the room. */
    taskId: string;
    /** `rtmp://` or `rtmps://` URL to push to, at most 1024 characters. */
    streamUrl: string;
    /** Also record the output on the server; default false. */
    record?: boolean;
    /** Kept for NetEase compatibility; positions come from the layout. */
    hostUid?: number;
    layout: RtmpTaskLayout;
    config?: RtmpTaskConfig;
    /** Free text, at most 4096 bytes. */
    extraInfo?: string;
  }

  /** Argument of {@link MprtcClient.addTasks} and {@link MprtcClient.updateTasks}. */
  interface RtmpTasksOptions {
    /** 1 to 8 tasks with distinct ids. `updateTasks` replaces each task's whole configuration. */
    rtmpTasks: RtmpTask[];
  }

  /** Argument of {@link MprtcClient.deleteTasks}. */
  interface DeleteTasksOptions {
    /** 1 to 8 task ids. */
    taskIds: string[];
  }

  // ------------------------------------------------------------------ events

  /**
   * Who an event is about. uids above 2^53-1 arrive as decimal strings with `isBigNumber: true`;
   * checking `isBigNumber` narrows `uid`. Either form can be passed back to the SDK as is.
   */
  type UidOf =
    | { uid: number; isBigNumber: false }
    | { uid: string; isBigNumber: true };

  /** `open`: the signaling socket opened. No data. */
  interface OpenEvent {}

  /**
   * `disconnect`: the session is over because the connection was lost for good — reconnecting
   * gave up (after `reconnectFailed`), was refused, or is turned off.
   */
  interface DisconnectEvent {
    /**
     * The last WebSocket close code (1006 when the socket failed without one, 4408 for missed
     * heartbeats), or the error code of a refused rejoin.
     */
    code: number;
    reason: string;
  }

  /** `willreconnect`: the connection was lost; attempt `count` (from 1) to get it back is next. */
  interface WillReconnectEvent {
    count: number;
    /**
     * Present (`true`) when the SDK dropped the connection itself because a room event was
     * missing (its sequence number skipped one): the reconnect fetches the missing events, or,
     * when the server no longer has them, a fresh session whose differences arrive as
     * ordinary events. Absent for an ordinary drop.
     */
    gap?: true;
  }

  /**
   * `reconnected`: the connection is back. `resumed`: the same session, and every event missed
   * meanwhile follows. Otherwise a new session: the room's changes arrived as ordinary events,
   * publication and subscriptions are restored by the SDK, and `syncDone` brings new URLs.
   */
  interface ReconnectedEvent {
    resumed: boolean;
  }

  /** `reconnectFailed`: reconnecting gave up; `disconnect` follows. */
  interface ReconnectFailedEvent {
    attempts: number;
    elapsedMs: number;
  }

  /** `mute-audio` / `unmute-audio` / `mute-video` / `unmute-video`: a member (un)muted a kind. */
  type MuteEvent = UidOf;

  /** Where a component stands: asked for, media flowing, or stopped by a failure. */
  type ComponentPhase = 'requesting' | 'active' | 'failed';

  /**
   * `pusher-state`: this member's `<live-pusher>` changed phase, read from the codes the page
   * forwards with `dataReporter` (`requesting` once `publish` resolved).
   */
  interface PusherStateEvent {
    phase: ComponentPhase;
    /** The component's state code (1002 push started, -1307 gave up, ...); 0 for `requesting`. */
    code: number;
  }

  /** `player-state`: the `<live-player>` playing `uid` changed phase. */
  type PlayerStateEvent = UidOf & {
    phase: ComponentPhase;
    code: number;
  };

  /**
   * `quality`: a component's `bindnetstatus` sample, at most once per second per component,
   * with the fields it reported under their WeChat names.
   */
  type QualityEvent = UidOf & {
    /** `push`: this member's pusher (`uid` is this member); `pull`: the player of `uid`. */
    kind: ReportKind;
  } & NetStatusInfo;

  /**
   * `identity`: the app-chosen ids of a member (ZEGO `userID` / `userName` / `streamID`),
   * emitted before its `clientJoin` or `stream-added`; only for members that have them.
   */
  type IdentityEvent = UidOf & {
    userID?: string;
    userName?: string;
    streamID?: string;
  };

  /**
   * `kickout`: the session ended (kicked, room closed, token expired) with the code ZEGO's
   * `roomStateUpdate` reports it with. Only the clients a `ZegoExpressEngine` makes get it;
   * a NetEase `Client` reads `kicked` and `liveRoomClose`.
   */
  interface KickoutEvent {
    /** 4025 same user elsewhere, 4030 server API or room closed, 4013 token expired. */
    code: MprtcErrorCode;
  }

  /** `sendCommandOverTime`: a call got no answer in time; its promise rejects with 1004. */
  interface SendCommandOverTimeEvent {
    /** The call: `publish`, `subscribe`, `setRole`, ... */
    command: string;
  }

  /** `clientJoin`: another member joined the room. */
  type ClientJoinEvent = UidOf;

  /** `clientLeave`: another member left the room. */
  type ClientLeaveEvent = UidOf & {
    /**
     * `left`: the member called leave; `connection_lost`: its connection dropped; `kicked`: the
     * server ended its session (server API, or the same uid joined again elsewhere).
     */
    reason: 'left' | 'connection_lost' | 'kicked';
  };

  /**
   * `stream-added` / `stream-removed`: a member's audio or video started or stopped reaching the
   * media server (one event per kind). After `stream-added` the play URL plays at once.
   */
  type StreamEvent = UidOf & {
    mediaType: MediaType;
  };

  /** `role-Changed`: a member's role changed. */
  type RoleChangedEvent = UidOf & {
    role: Role;
  };

  /** Push-task states: 505 pushing (output flows), 506 failed (the server retries), 511 ended. */
  type RtmpTaskStatusCode = 505 | 506 | 511;

  /** `rtmp-tasks-status`: a push task's state changed. */
  interface RtmpTasksStatusEvent {
    taskId: string;
    code: RtmpTaskStatusCode;
    /**
     * Human-readable state. For 506: `reason: explanation`, with a stable reason such as
     * `connect_failed`, `handshake_failed`, `output_failed`, `input_failed`, `image_refused`,
     * `image_fetch_failed`, `output_refused`, `no_output` or `stalled` (the engine's own error
     * text stays in the server log).
     */
    msg: string;
    /**
     * The task's push URL for members who may manage tasks; for the others only its scheme and
     * host (`rtmp://push.example.com`), since the path and query carry CDN push secrets.
     */
    streamUrl: string;
  }

  /**
   * `syncDone`: a push or play URL changed. The SDK restarted a `<live-pusher>` that reported
   * -1307 or a `<live-player>` that reported -2301 (through {@link MprtcClient.dataReporter});
   * set `url` on that component (`uid` is this member for the pusher, the played member for a
   * player).
   */
  type SyncDoneEvent = UidOf & {
    url: string;
    /** Which component: this member's `<live-pusher>` (`push`) or a `<live-player>` (`pull`). */
    kind: 'push' | 'pull';
    /** The same news as a list of one, as newer NetEase documentation describes it. */
    userlist: (UidOf & { url: string })[];
  };

  /**
   * `kicked`: the server ended this session — `replaced` when the same uid joined the room on
   * another connection, `kicked` when the app's backend removed the member. Join again to return.
   */
  interface KickedEvent {
    /** `token_expired`: the join token expired without `renewToken`. */
    reason: 'replaced' | 'kicked' | 'token_expired';
  }

  /** `tokenWillExpire`: the join token expires in `remainingSeconds`; call `renewToken`. */
  interface TokenWillExpireEvent {
    remainingSeconds: number;
  }

  /** `liveRoomClose`: the app's backend closed the room; this session is over. */
  interface LiveRoomCloseEvent {}

  /** What a room message is: chat, barrage (danmaku) or a custom command. */
  type MessageType = 'broadcast' | 'barrage' | 'command';

  /**
   * `message` (mprtc's extension): a room message from another member, numbered by the room
   * (`id`) and timed by the server (`ts`, ms since the epoch). ZEGO engines in the room get the
   * same messages as `IMRecv*` events.
   */
  interface MessageEvent {
    uid: Uid;
    isBigNumber: boolean;
    id: number;
    type: MessageType;
    text: string;
    ts: number;
  }

  /**
   * `extra-info` (mprtc's extension): a member's stream extra info (`key` absent) or a room
   * extra info `key`, set by a ZEGO engine in the room (`setStreamExtraInfo` /
   * `setRoomExtraInfo`); the current ones also come right after `join`.
   */
  interface ExtraInfoEvent {
    uid: Uid;
    isBigNumber: boolean;
    key?: string;
    value: string;
    ts: number;
  }

  /** `sendMessage`'s argument: up to 1,024 bytes of `text`; `to` (a command's targets, at most 100) empty for everyone. */
  interface MessageOptions {
    type: MessageType;
    text: string;
    to?: UidIn[];
  }

  /** Event name → payload, for code that handles events generically. */
  interface ClientEventMap {
    open: OpenEvent;
    disconnect: DisconnectEvent;
    clientJoin: ClientJoinEvent;
    clientLeave: ClientLeaveEvent;
    'stream-added': StreamEvent;
    'stream-removed': StreamEvent;
    'role-Changed': RoleChangedEvent;
    'rtmp-tasks-status': RtmpTasksStatusEvent;
    syncDone: SyncDoneEvent;
    kicked: KickedEvent;
    liveRoomClose: LiveRoomCloseEvent;
    tokenWillExpire: TokenWillExpireEvent;
    willreconnect: WillReconnectEvent;
    reconnected: ReconnectedEvent;
    reconnectFailed: ReconnectFailedEvent;
    sendCommandOverTime: SendCommandOverTimeEvent;
    'mute-audio': MuteEvent;
    'unmute-audio': MuteEvent;
    'mute-video': MuteEvent;
    'unmute-video': MuteEvent;
    'pusher-state': PusherStateEvent;
    'player-state': PlayerStateEvent;
    quality: QualityEvent;
    identity: IdentityEvent;
    kickout: KickoutEvent;
    message: MessageEvent;
    'extra-info': ExtraInfoEvent;
  }

  type ClientEventName = keyof ClientEventMap;

  /** A listener, called with the client as `this`. Its result is ignored; a throw is logged. */
  type Listener<T> = (this: Client, data: T) => void;

  // ------------------------------------------------------------------ component reports

  // Declared in reports.d.ts; named here so that `import type { NetStatusInfo } from 'mprtc'` works.
  type ReportKind = import('./reports').ReportKind;
  type ReportType = import('./reports').ReportType;
  type StateChangeReport = import('./reports').StateChangeReport;
  type NetStatusInfo = import('./reports').NetStatusInfo;
  type ComponentErrorReport = import('./reports').ComponentErrorReport;

  // ------------------------------------------------------------------ errors

  /**
   * Numeric error codes (the README's error table): 1xxx detected by the SDK, 4xxx refused by
   * the server, 5xxx server failure. A number keeps its meaning across releases.
   */
  type MprtcErrorCode =
    | 1001 // invalid_argument: an argument is missing or out of range
    | 1002 // not_joined: the call needs a joined room
    | 1003 // already_joined: join while joined or joining
    | 1004 // timeout: no answer before the request's deadline (10 s)
    | 1005 // connection_lost: the signaling socket closed or could not open
    | 1006 // protocol_violation: the server sent something unreadable
    | 1007 // cancelled: the call was abandoned by leave / destroy
    | 1008 // wasm_unavailable: the wasm core could not be loaded
    | 1009 // reconnect_failed: the connection was lost and could not be got back in time
    | 1010 // unsupported: an option mprtc does not provide (e.g. NetEase server-side recording)
    | 4000 // malformed_frame: the frame is not a JSON object envelope
    | 4001 // unsupported_version: protocol version mismatch
    | 4002 // unknown_request: unknown request type
    | 4003 // invalid_params: bad request body
    | 4004 // frame_too_large: frame above the server's max_frame_bytes
    | 4005 // invalid_task: a push-task field breaks a rule; error.field names it
    | 4010 // unknown_app_key: app key not configured on the server
    | 4011 // token_required: the app key needs a token
    | 4012 // token_invalid: bad signature, or issued for another app, room or uid
    | 4013 // token_expired: the token expired
    | 4014 // permission_denied: the token does not grant this
    | 4020 // not_in_room: request before join
    | 4021 // already_in_room: second join on one connection
    | 4022 // audience_cannot_publish: audience members cannot publish
    | 4023 // not_publishing: the subscribed uid publishes none of the requested media
    | 4024 // no_such_member: uid not in the room
    | 4025 // uid_in_use: the same uid joined elsewhere (ZEGO room state code for that kick)
    | 4026 // task_exists: addTasks with a task id the room has
    | 4027 // no_such_task: updateTasks / deleteTasks with an unknown task id
    | 4028 // no_such_room: server API: the room has no members
    | 4029 // limit_exceeded: too many requests or members
    | 4030 // session_ended: the server ended the session (kicked, room closed)
    | 5000; // internal: server failure; the request may be retried

  /** Stable snake_case names of the codes, in the same order. */
  type MprtcErrorReason =
    | 'invalid_argument'
    | 'not_joined'
    | 'already_joined'
    | 'timeout'
    | 'connection_lost'
    | 'protocol_violation'
    | 'cancelled'
    | 'wasm_unavailable'
    | 'reconnect_failed'
    | 'unsupported'
    | 'malformed_frame'
    | 'unsupported_version'
    | 'unknown_request'
    | 'invalid_params'
    | 'frame_too_large'
    | 'invalid_task'
    | 'unknown_app_key'
    | 'token_required'
    | 'token_invalid'
    | 'token_expired'
    | 'permission_denied'
    | 'not_in_room'
    | 'already_in_room'
    | 'audience_cannot_publish'
    | 'not_publishing'
    | 'no_such_member'
    | 'uid_in_use'
    | 'task_exists'
    | 'no_such_task'
    | 'no_such_room'
    | 'limit_exceeded'
    | 'session_ended'
    | 'internal';

  /**
   * What the SDK's promises reject with: a real `Error` (so `instanceof Error` holds) carrying a
   * numeric `code` and a stable `reason`. The message is for humans and may change.
   */
  interface MprtcError extends Error {
    name: 'MprtcError';
    code: MprtcErrorCode;
    reason: MprtcErrorReason;
    /** For 4005 `invalid_task`: the offending field, e.g. `rtmpTasks[0].layout.users[1].x`. */
    field?: string;
  }

  // ------------------------------------------------------------------ the client

  /**
   * What `Client(options)` returns: one connection to an mprtc-server. Every call returns a
   * promise that settles when the outcome is known and rejects with an {@link MprtcError}.
   *
   * Use it as {@link Client}. (It has its own name because `import { Client }` merges the type
   * with the module's `Client` property, and an interface with `this` types would then not
   * match itself; the alias survives that merge.)
   */
  interface MprtcClient {
    /**
     * Loads the wasm core and checks the options (rejects 1001 on bad ones, 1008 when the wasm
     * cannot load). Optional: every other call runs it first; repeated calls share one promise.
     */
    init(): Promise<void>;
    /** Joins a room. Resolves once joined. */
    join(params: JoinParams): Promise<void>;
    /** Leaves the room; pending calls reject with 1007 `cancelled`. */
    leave(): Promise<void>;
    /** Starts publishing (both kinds when left out or `''`); resolves with the URL for `<live-pusher url>`. */
    publish(mediaType?: MediaType | ''): Promise<string>;
    /** Stops publishing the given kind (both when left out or `''`). */
    unpublish(mediaType?: MediaType | ''): Promise<void>;
    /** Subscribes to a member's media (both kinds when left out); resolves with play URLs. */
    subscribe(uid: UidIn, mediaType?: MediaType): Promise<PlayUrls>;
    /** Stops subscribing to a member's media (both kinds when left out). */
    unsubscribe(uid: UidIn, mediaType?: MediaType): Promise<void>;
    /** Switches this member's role. `'host'` is accepted as another name for `'broadcaster'`. */
    setRole(role: Role | 'host'): Promise<void>;
    /** Starts push tasks in the room (broadcasters may manage tasks; a token can deny it). */
    addTasks(options: RtmpTasksOptions): Promise<void>;
    /** Replaces the configuration of running push tasks. */
    updateTasks(options: RtmpTasksOptions): Promise<void>;
    /** Ends push tasks. */
    deleteTasks(options: DeleteTasksOptions): Promise<void>;
    /** Replaces the session's join token (same app, room and uid) before it expires. */
    renewToken(token: string): Promise<void>;
    /**
     * mprtc's extension: sends a room message; resolves with its room id and server time.
     * Rejects with 1001 (bad message), 4029 (over 10 a second per member or 50 per room).
     */
    sendMessage(options: MessageOptions): Promise<{ id: number; ts: number }>;
    /**
     * Stops sending a kind (both when left out) without unpublishing; the others get
     * `mute-audio` / `mute-video`. Set `muted` / `enable-camera` on the `<live-pusher>` too.
     */
    mute(mediaType?: MediaType): Promise<void>;
    /** Sends a muted kind again; the others get `unmute-audio` / `unmute-video`. */
    unmute(mediaType?: MediaType): Promise<void>;

    /**
     * Forwards a `<live-pusher>` (`'push'`) or `<live-player>` (`'pull'`) event. Odd contents
     * are ignored, never an error. When a pusher reports -1307 or a player -2301 the SDK gets a
     * fresh URL and emits `syncDone`. `uid` is the member a `<live-player>` plays (it may be left
     * out while only one member is subscribed). Resolves once the SDK has taken the report and
     * never rejects (components keep reporting after `leave`): a refused report — 1001
     * `invalid_argument` for an unknown kind or event name, 1002 `not_joined` outside a room — is
     * logged with `console.warn`.
     */
    dataReporter(kind: ReportKind, type: 'bindstatechange', data: StateChangeReport, uid?: UidIn): Promise<void>;
    dataReporter(kind: ReportKind, type: 'bindnetstatus', data: NetStatusInfo | { info: NetStatusInfo }, uid?: UidIn): Promise<void>;
    dataReporter(kind: ReportKind, type: 'binderror', data: ComponentErrorReport, uid?: UidIn): Promise<void>;

    /** The signaling socket opened. */
    on(event: 'open', listener: Listener<OpenEvent>): this;
    /** The session is lost for good (reconnecting gave up, was off, or was refused); a socket that closes and comes back gives `willreconnect` / `reconnected` only. */
    on(event: 'disconnect', listener: Listener<DisconnectEvent>): this;
    /** Another member joined the room. */
    on(event: 'clientJoin', listener: Listener<ClientJoinEvent>): this;
    /** Another member left the room. */
    on(event: 'clientLeave', listener: Listener<ClientLeaveEvent>): this;
    /** A member's audio or video reached the media server: subscribe now. */
    on(event: 'stream-added', listener: Listener<StreamEvent>): this;
    /** A member's audio or video stopped: remove its player. */
    on(event: 'stream-removed', listener: Listener<StreamEvent>): this;
    /** A member's role changed. */
    on(event: 'role-Changed', listener: Listener<RoleChangedEvent>): this;
    /** A push task's state changed (505 pushing, 506 failed, 511 ended). */
    on(event: 'rtmp-tasks-status', listener: Listener<RtmpTasksStatusEvent>): this;
    /** A push or play URL changed: set the new `url` on that `<live-pusher>` / `<live-player>`. */
    on(event: 'syncDone', listener: Listener<SyncDoneEvent>): this;
    /** The server ended this session (same uid elsewhere, or the server API). */
    on(event: 'kicked', listener: Listener<KickedEvent>): this;
    /** The server API closed the room. */
    on(event: 'liveRoomClose', listener: Listener<LiveRoomCloseEvent>): this;
    /** The join token expires soon: fetch a new one and call `renewToken`. */
    on(event: 'tokenWillExpire', listener: Listener<TokenWillExpireEvent>): this;
    /** A room message from another member (mprtc's extension). */
    on(event: 'message', listener: Listener<MessageEvent>): this;
    /** Stream or room extra info a ZEGO engine in the room set (mprtc's extension). */
    on(event: 'extra-info', listener: Listener<ExtraInfoEvent>): this;
    /** The connection was lost; the SDK is trying to get it back. */
    on(event: 'willreconnect', listener: Listener<WillReconnectEvent>): this;
    /** The connection is back. */
    on(event: 'reconnected', listener: Listener<ReconnectedEvent>): this;
    /** Reconnecting gave up; `disconnect` follows. */
    on(event: 'reconnectFailed', listener: Listener<ReconnectFailedEvent>): this;
    /** A call got no answer in time. */
    on(event: 'sendCommandOverTime', listener: Listener<SendCommandOverTimeEvent>): this;
    /** A member muted its audio. */
    on(event: 'mute-audio', listener: Listener<MuteEvent>): this;
    /** A member unmuted its audio. */
    on(event: 'unmute-audio', listener: Listener<MuteEvent>): this;
    /** A member muted its video. */
    on(event: 'mute-video', listener: Listener<MuteEvent>): this;
    /** A member unmuted its video. */
    on(event: 'unmute-video', listener: Listener<MuteEvent>): this;
    /** This member's `<live-pusher>` changed phase. */
    on(event: 'pusher-state', listener: Listener<PusherStateEvent>): this;
    /** A `<live-player>` changed phase. */
    on(event: 'player-state', listener: Listener<PlayerStateEvent>): this;
    /** A component's network quality (at most once per second per component). */
    on(event: 'quality', listener: Listener<QualityEvent>): this;
    /** A member's app-chosen ids. */
    on(event: 'identity', listener: Listener<IdentityEvent>): this;
    /** The session's end with ZEGO's code (the clients of a `ZegoExpressEngine` only). */
    on(event: 'kickout', listener: Listener<KickoutEvent>): this;

    /** Removes one listener, or every listener of the event when `listener` is left out. */
    off<K extends ClientEventName>(event: K, listener?: Listener<ClientEventMap[K]>): this;

    /**
     * Closes the socket, rejects pending calls with 1007 `cancelled` and drops every listener.
     * The client cannot be used afterwards.
     */
    destroy(): void;
  }

  /** The client type: `import type { Client } from 'mprtc'`, or `SDK.Client` in a type position. */
  type Client = MprtcClient;

  /** `Client(options)`, with or without `new`. */
  interface ClientConstructor {
    new (options: ClientOptions): Client;
    (options: ClientOptions): Client;
    readonly prototype: Client;
  }

  // ------------------------------------------------------------------ the ZEGO dialect

  // Declared in zego-engine.d.ts; named here so that `import type { ZegoUser } from 'mprtc'` works.
  type ZegoRoomState = import('./zego-engine').ZegoRoomState;
  type ZegoRoomStateReason = import('./zego-engine').ZegoRoomStateReason;
  type ZegoUser = import('./zego-engine').ZegoUser;
  type ZegoStreamInfo = import('./zego-engine').ZegoStreamInfo;
  type ZegoStreamResult = import('./zego-engine').ZegoStreamResult;
  type ZegoPublisherState = import('./zego-engine').ZegoPublisherState;
  type ZegoPlayerState = import('./zego-engine').ZegoPlayerState;
  type ZegoQualityStats = import('./zego-engine').ZegoQualityStats;
  type ZegoEventMap = import('./zego-engine').ZegoEventMap;
  type ZegoMixerTask = import('./zego-engine').ZegoMixerTask;
  type ZegoRoomExtraInfo = import('./zego-engine').ZegoRoomExtraInfo;
  type ZegoBroadcastMessageInfo = import('./zego-engine').ZegoBroadcastMessageInfo;
  type ZegoBarrageMessageInfo = import('./zego-engine').ZegoBarrageMessageInfo;
  type ZegoMessageResult = import('./zego-engine').ZegoMessageResult;
  type ZegoComponentEvent = import('./zego-engine').ZegoComponentEvent;
  type ZegoExpressEngine = import('./zego-engine').ZegoExpressEngine;
  type ZegoEngineOptions = import('./zego-engine').ZegoEngineOptions;
  type ZegoExpressEngineConstructor = import('./zego-engine').ZegoExpressEngineConstructor;

  /** The module object. */
  interface MprtcSDK {
    /**
     * The NetEase-style client; one per mini-program, as NetEase's: calling `Client` again
     * returns the same client until it is destroyed. Works with or without `new`.
     */
    Client: ClientConstructor;
    /** The ZEGO-style engine; each `new ZegoExpressEngine(...)` is its own connection. */
    ZegoExpressEngine: ZegoExpressEngineConstructor;
    /** Destroys the shared client (NetEase's `YunXinMiniappSDK.destroy()`). */
    destroy(): void;
    /**
     * Sets where the wasm is loaded from, for every client (default
     * `miniprogram_npm/mprtc/mprtc_bg.wasm.br`). Call before the first load.
     */
    setWasmPath(path: string): void;
    /**
     * Loads the wasm core now instead of on the first call (it is loaded once per mini-program).
     * Rejects with 1008 `wasm_unavailable`; a failed load may be retried.
     */
    load(): Promise<void>;
    /**
     * The server of every `Client` whose options name none (call it once, e.g. in `app.js`), so
     * that pages keep NetEase's `Client({debug, appkey})` unchanged. Without either, the first
     * call rejects with 1001 naming the `server` option and `setServer`.
     */
    setServer(url: string): void;
    /** For pkg/zego-components.js: the stream this mini-program publishes, which a `<zego-pusher>` names its events with. */
    zegoPushing(): string | null;
    /** The same object, for `import ... from 'mprtc'` without esModuleInterop-style helpers. */
    default: MprtcSDK;
  }
}

declare const mprtc: mprtc.MprtcSDK;

export = mprtc;
