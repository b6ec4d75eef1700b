//! The recordings already on disk when the server starts: each app's finished files count
//! towards its quota and are listed, as if recorded by this process.
//!
//! Only names this module writes are taken (`{app}/{room}/uid-{uid}-{ms}-{n}.mp4`); anything
//! else in the directory (push-task recordings, the operator's own files) is left alone.

use std::collections::HashMap;
use std::path::Path;

use super::{FinishedFile, Member};

/// The member recordings under `dir`, per app, oldest first (by name: the start time is in it).
pub(super) fn scan(dir: &Path) -> HashMap<String, Vec<FinishedFile>> {
    let mut found: HashMap<String, Vec<FinishedFile>> = HashMap::new();
    for (app, app_dir) in subdirs(dir) {
        for (room, room_dir) in subdirs(&app_dir) {
            let Ok(files) = std::fs::read_dir(&room_dir) else {
                continue;
            };
            for f in files.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                let (Some(uid), Ok(meta)) = (uid_of(&name), f.metadata()) else {
                    continue;
                };
                let member = Member {
                    app: app.clone(),
                    room: room.clone(),
                    uid,
                };
                found.entry(app.clone()).or_default().push(FinishedFile {
                    member,
                    path: f.path(),
                    bytes: meta.len(),
                });
            }
        }
    }
    for files in found.values_mut() {
        files.sort_by(|a, b| a.path.cmp(&b.path));
    }
    found
}

/// The directories directly in `dir`, by name.
fn subdirs(dir: &Path) -> Vec<(String, std::path::PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect()
}

/// The uid in a member recording's file name `uid-{uid}-{ms}-{n}.mp4`, if it is one.
fn uid_of(name: &str) -> Option<u64> {
    let rest = name.strip_prefix("uid-")?.strip_suffix(".mp4")?;
    let mut parts = rest.split('-');
    let uid = parts.next()?.parse().ok()?;
    let numbers = parts.map(|p| p.parse::<u64>().is_ok()).collect::<Vec<_>>();
    (numbers.len() == 2 && numbers.iter().all(|&n| n)).then_some(uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_member_recording_names_are_taken() {
        assert_eq!(uid_of("uid-7-1764750000000-00003.mp4"), Some(7));
        for other in [
            "live_1-1764750000.flv",
            "uid-7.mp4",
            "uid-x-1-2.mp4",
            "uid-7-1-2-3.mp4",
        ] {
            assert_eq!(uid_of(other), None, "{other}");
        }
    }
}
