//! What `std` would otherwise provide the wasm: an allocator and a panic handler.
//!
//! Why `no_std`: std's panic handler formats the panic message, which links all of `core::fmt`
//! (and the Unicode tables `{:?}` uses) into the wasm even when nothing panics. A mini-program
//! downloads every byte of it. Here a panic reports where it happened and traps; the JS call
//! that caused it throws a `RuntimeError`, as it did with std's `panic = "abort"`.

use wasm_bindgen::prelude::*;

/// Talc over the wasm memory, growing it as needed. dlmalloc, std's choice here, is 4.6 KB
/// more of the download; talc reuses freed memory as well (it coalesces neighbours), so a long
/// session does not grow the heap (tests/runtime.test.js runs thousands of calls to check).
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(what: &str, file: &str, line: u32);
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    // The message would need `core::fmt`; the place is enough to find the bug.
    if let Some(at) = info.location() {
        console_error(
            "mprtc: a bug in the wasm core (please report it) at",
            at.file(),
            at.line(),
        );
    }
    core::arch::wasm32::unreachable()
}
