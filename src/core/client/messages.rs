//! Room messages and extra info: `send-message` / `set-extra-info` out, `message` /
//! `extra-info` events in. The server numbers, times, limits
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

    /// Set this member's stream extra info (`key` `None`) or a room extra info; the others
    /// get `extra-info`, and so does everyone who joins later.
    pub fn set_extra_info(
        &mut self,
        now: u64,
        key: Option<String>,
        value: String,
    ) -> Result<OpId, Error> {
        self.joined_ref()?;
        if value.len() > MAX_INFO_VALUE_BYTES
            || key
                .as_ref()
                .is_some_and(|k| k.is_empty() || k.len() > MAX_INFO_KEY_BYTES)
        {
            return Err(Error::invalid(
                "extra info: a key is 1 to 32 bytes, a value up to 1024",
            ));
        }
        let req = SetExtraInfoReq { key, value };
        Ok(self.request(
            now,
            RequestKind::SetExtraInfo,
            &req,
            Pend::Plain("setExtraInfo"),
        ))
    }
}
