//! mprtc: real-time audio/video and interactive live streaming for WeChat mini-programs.
//!
//! - [`protocol`]: the wire format, shared with `mprtc-server`.
//! - [`core`]: the sans-IO client state machine, tested natively in virtual time.
//! - `wasm` (wasm32 only): the thin `#[wasm_bindgen]` skin the JS shim drives.

pub mod core;
pub mod protocol;

#[cfg(target_arch = "wasm32")]
pub mod wasm;
