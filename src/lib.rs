//! mprtc: real-time audio/video and interactive live streaming for WeChat mini-programs.
//!
//! - [`protocol`]: the wire format, shared with `mprtc-server`.
//! - [`core`]: the sans-IO client state machine, tested natively in virtual time.
//! - `wasm` (wasm32 only): the thin `#[wasm_bindgen]` skin the JS shim drives.

// The shipped wasm is `no_std`: std's panic machinery would bring `core::fmt` and its tables
// into every mini-program (see `wasm/runtime.rs`). Native builds (server, tests) keep std, and
// so do the wasm tests in the browser (feature `std`: their harness needs it).
#![cfg_attr(all(target_arch = "wasm32", not(any(test, feature = "std"))), no_std)]

extern crate alloc;

pub mod bridge;
pub mod core;
pub mod prelude;
pub mod protocol;
pub mod text;

#[cfg(target_arch = "wasm32")]
pub mod wasm;
