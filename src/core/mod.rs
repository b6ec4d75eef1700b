//! The sans-IO SDK core: no sockets, no clock, no JavaScript. Inputs in, [`Output`]s out.

// Every public item of the core is part of the SDK's surface: say what it is for.
#![warn(missing_docs)]

mod client;
pub mod component;
mod error;
#[cfg(test)]
mod fuzz;
mod output;
pub mod params;
pub mod reconnect;
#[cfg(test)]
mod tests;
mod uid_map;

pub use client::{
    Client, ClientConfig, ComponentStatus, Remote, HEARTBEAT_CLOSE_CODE, LEAVE_CLOSE_CODE,
    LOST_CLOSE_CODE, QUALITY_INTERVAL_MS, RECONNECT_CLOSE_CODE,
};
pub use component::{ComponentKind, ReportEvent};
pub use error::Error;
pub use output::{AppEvent, MediaKind, OpId, OpValue, Output, Phase, ZegoFact};
pub use uid_map::UidMap;
