//! Room messages: `send-message` out, `message` events in. The server numbers, times, limits
//! and delivers them (in order, once, and again after a resume, like every event); the SDK
//! checks what it can before sending so that a bad message fails at once with 1001.

use crate::prelude::*;

use super::requests::Pend;
use super::Client;
use crate::core::error::Error;
use crate::core::output::OpId;
use crate::protocol::*;

impl Client {
    /// Send a room message: to everyone, or (a command) to the members in `to`.
    pub fn send_message(
        &mut self,
        now: u64,
        kind: MessageKind,
        text: String,
        to: Vec<u64>,
    ) -> Result<OpId, Error> {
        self.joined_ref()?;
        if text.is_empty() || text.len() > MAX_MESSAGE_BYTES {
            return Err(Error::invalid("a message is 1 to 1024 bytes"));
        }
        // Only a command has targets; more than the server takes fails here, not there.
        if to.len() > MAX_MESSAGE_TARGETS || (kind != MessageKind::Command && !to.is_empty()) {
            return Err(Error::invalid("a command names at most 100 members"));
        }
        let req = SendMessageReq { kind, text, to };
        Ok(self.request(now, RequestKind::SendMessage, &req, Pend::Message))
    }
}
