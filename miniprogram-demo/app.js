// The demo app. Pages do the work; the app only notes whether this WeChat can load the SDK's
// wasm at all, so the join page can say so instead of failing on join.
App({
  globalData: {
    wasmSupported: true
  },
  onLaunch: function () {
    this.globalData.wasmSupported = typeof WXWebAssembly !== 'undefined';
  }
});
