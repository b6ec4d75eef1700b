//! The few `alloc` names the crate uses, imported explicitly so the same code builds with and
//! without `std`.

pub use alloc::borrow::ToOwned;
pub use alloc::boxed::Box;
pub use alloc::string::{String, ToString};
pub use alloc::vec;
pub use alloc::vec::Vec;
