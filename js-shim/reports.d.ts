// Type declarations of the component reports (`dataReporter` in the NetEase dialect,
// `updatePlayerState` / `updatePlayerNetStatus` in the ZEGO one): what `<live-pusher>` and
// `<live-player>` events carry. index.d.ts re-exports every name here.

/** `dataReporter`'s first argument: `'push'` for `<live-pusher>`, `'pull'` for `<live-player>`. */
export type ReportKind = 'push' | 'pull';

/**
 * `dataReporter`'s second argument: the component event forwarded, by its attribute name.
 */
export type ReportType = 'bindstatechange' | 'bindnetstatus' | 'binderror';

/**
 * A `bindstatechange` report: `e.detail`. `<live-pusher>` codes are 1001–1008, -1301…-1312,
 * 1101–1106, 3001–3005; `<live-player>` codes 2001–2009, -2301, -2302, 2101–2108, 3001–3005.
 * Other codes are accepted and kept.
 */
export interface StateChangeReport {
  code: number | string;
  /** Free text; accepted and ignored. */
  reason?: string;
  /** The component's own text (`e.detail.message`); accepted and ignored. */
  message?: string;
}

/**
 * A `bindnetstatus` report: `e.detail.info` (or `e.detail`). Every field is optional and may be
 * a number or a numeric string; unreadable fields are ignored.
 */
export interface NetStatusInfo {
  /** kbit/s. */
  videoBitrate?: number | string;
  /** kbit/s. */
  audioBitrate?: number | string;
  videoFPS?: number | string;
  /** Key-frame interval, seconds. */
  videoGOP?: number | string;
  /** kbit/s. */
  netSpeed?: number | string;
  netJitter?: number | string;
  /** 0 unknown, 1 excellent … 5 very bad, 6 unusable. */
  netQualityLevel?: number | string;
  videoWidth?: number | string;
  videoHeight?: number | string;
  /** ms. */
  videoCache?: number | string;
  /** ms. */
  audioCache?: number | string;
  vDecCacheSize?: number | string;
  vSumCacheSize?: number | string;
  /** ms. */
  avPlayInterval?: number | string;
  /** ms. */
  avRecvInterval?: number | string;
  audioCacheThreshold?: number | string;
  code?: number | string;
  message?: string;
}

/**
 * A `binderror` report: `e.detail`. `errCode` 10001 camera not allowed, 10002 recording not
 * allowed, 10003 background music failed to load, 10004 `waiting-image` failed to load.
 */
export interface ComponentErrorReport {
  errCode?: number | string;
  errMsg?: string;
}
