//! The `#[wasm_bindgen]` skin: one class with one method. Everything the shim asks goes through
//! [`crate::bridge::Bridge::call`] as JSON text (see there why); `js-shim/client.js` is the
//! other side.

use wasm_bindgen::prelude::*;

use crate::bridge::Bridge;
use crate::prelude::*;

#[cfg(not(any(test, feature = "std")))]
mod runtime;

#[wasm_bindgen]
#[derive(Default)]
pub struct WasmClient {
    bridge: Bridge,
}

#[wasm_bindgen]
impl WasmClient {
    /// An empty client; the `init` call sets it up.
    #[wasm_bindgen(constructor)]
    pub fn new() -> WasmClient {
        Self::default()
    }

    /// `name`: the call; `args`: `JSON.stringify` of its argument array (`""` if that threw);
    /// `now`: `Date.now()`. Answers `{"ok"|"err", "out", "next"}` as JSON text.
    pub fn call(&mut self, name: &str, args: &str, now: f64) -> String {
        self.bridge.call(name, args, now)
    }
}
