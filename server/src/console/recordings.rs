//! The recordings on disk, as the console lists them: push tasks' files
//! (`<dir>/<app>/<room>/<task>-<unix>[.n].flv`) and member recordings' segments
//! (`<dir>/<app>/<room>/uid-<uid>-<ms>-<n>.mp4`, see [`crate::recording`]), with names, sizes
//! and times, at most [`MAX_RECORDINGS_LISTED`].

use std::path::Path;

/// Recordings one listing shows at most; the walk stops there.
pub const MAX_RECORDINGS_LISTED: usize = 200;
/// Directory entries looked at at most, so that a directory full of other files cannot make
/// one listing read it all.
const MAX_ENTRIES_SEEN: usize = 20_000;

/// One recorded file.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recording {
    /// The app's directory name (the app key, with unsafe characters replaced).
    pub app: String,
    /// The room's directory name.
    pub room: String,
    /// The file name.
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// When it was last written, unix seconds.
    pub modified: u64,
}

/// The newest [`MAX_RECORDINGS_LISTED`] recordings under `dir`, newest first, and whether the
/// listing was cut off. Every file the walk sees is a candidate (the walk is bounded by
/// [`MAX_ENTRIES_SEEN`]), so that the newest are shown, not the first the directory order
/// happens to give. A missing directory is an empty listing (nothing was recorded yet).
pub fn list(dir: &Path) -> (Vec<Recording>, bool) {
    let mut found = Vec::new();
    let mut budget = MAX_ENTRIES_SEEN;
    for (app, app_dir) in subdirs(dir, &mut budget) {
        for (room, room_dir) in subdirs(&app_dir, &mut budget) {
            for (file, meta) in entries(&room_dir, &mut budget) {
                let recorded = file.ends_with(".flv") || file.ends_with(".mp4");
                if meta.is_file() && recorded {
                    let modified = meta
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_secs());
                    let (app, room, bytes) = (app.clone(), room.clone(), meta.len());
                    found.push(Recording {
                        app,
                        room,
                        file,
                        bytes,
                        modified,
                    });
                }
            }
        }
    }
    let mut found = sorted(found);
    let cut = found.len() > MAX_RECORDINGS_LISTED;
    found.truncate(MAX_RECORDINGS_LISTED);
    (found, cut || budget == 0)
}

/// Newest first; by name among files of the same second.
fn sorted(mut found: Vec<Recording>) -> Vec<Recording> {
    found.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.file.cmp(&b.file)));
    found
}

/// The entries of `dir` with their metadata, each one taken from `budget` (shared by the
/// whole walk, so that no tree of directories makes one listing read without end).
fn entries(dir: &Path, budget: &mut usize) -> Vec<(String, std::fs::Metadata)> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in read.flatten() {
        if *budget == 0 {
            break;
        }
        *budget -= 1;
        if let Ok(meta) = e.metadata() {
            out.push((e.file_name().to_string_lossy().into_owned(), meta));
        }
    }
    out
}

/// The directories directly under `dir`, with their names and paths.
fn subdirs(dir: &Path, budget: &mut usize) -> Vec<(String, std::path::PathBuf)> {
    entries(dir, budget)
        .into_iter()
        .filter(|(_, meta)| meta.is_dir())
        .map(|(name, _)| {
            let path = dir.join(&name);
            (name, path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_task_and_member_recordings_by_app_and_room_and_skips_the_rest() {
        let dir = std::env::temp_dir().join(format!("mprtc-console-rec-{}", std::process::id()));
        let room = dir.join("demo").join("r1");
        std::fs::create_dir_all(&room).unwrap();
        std::fs::write(room.join("mix-100.flv"), b"FLV1234").unwrap();
        std::fs::write(room.join("uid-7-1764750000000-00000.mp4"), b"MP4").unwrap();
        std::fs::write(room.join("notes.txt"), b"x").unwrap();
        std::fs::write(dir.join("stray.flv"), b"x").unwrap();
        let (mut list, truncated) = list(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(!truncated);
        list.sort_by(|a, b| a.file.cmp(&b.file));
        let rows: Vec<_> = list
            .iter()
            .map(|r| (r.app.as_str(), r.room.as_str(), r.file.as_str(), r.bytes))
            .collect();
        assert_eq!(
            rows,
            [
                ("demo", "r1", "mix-100.flv", 7),
                ("demo", "r1", "uid-7-1764750000000-00000.mp4", 3)
            ]
        );
    }

    #[test]
    fn a_listing_stops_at_its_cap_and_says_so() {
        let dir = std::env::temp_dir().join(format!("mprtc-console-cap-{}", std::process::id()));
        let room = dir.join("demo").join("r1");
        std::fs::create_dir_all(&room).unwrap();
        for i in 0..=MAX_RECORDINGS_LISTED {
            std::fs::write(room.join(format!("t-{i}.flv")), b"x").unwrap();
        }
        let (list, truncated) = list(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(list.len(), MAX_RECORDINGS_LISTED);
        assert!(truncated);
    }

    /// Past the cap, the newest are listed, whatever order the directory gives its entries.
    #[test]
    fn a_listing_past_its_cap_shows_the_newest() {
        let dir = std::env::temp_dir().join(format!("mprtc-console-new-{}", std::process::id()));
        let room = dir.join("demo").join("r1");
        std::fs::create_dir_all(&room).unwrap();
        let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        for i in 0..2_000 {
            let f = std::fs::File::create(room.join(format!("old-{i}.flv"))).unwrap();
            f.set_modified(old).unwrap();
        }
        for i in 0..MAX_RECORDINGS_LISTED {
            std::fs::write(room.join(format!("new-{i}.flv")), b"x").unwrap();
        }
        let (list, truncated) = list(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(truncated);
        assert_eq!(list.len(), MAX_RECORDINGS_LISTED);
        let old_ones = list.iter().filter(|r| r.file.starts_with("old-")).count();
        assert_eq!(old_ones, 0, "only the newest are listed");
    }

    #[test]
    fn a_missing_directory_is_an_empty_listing() {
        let (list, truncated) = list(Path::new("/nonexistent/mprtc-console"));
        assert!(list.is_empty() && !truncated);
    }
}
