//! The local file channel: one JSON line per message, the demo default.
//!
//! Exactly once by construction: the keys already in the file are read on
//! open, and a record whose key is there is reported sent without writing
//! again. Each line is flushed and synced before `Sent` is returned.

use super::{Channel, Outcome};
use farguard_model::{ChannelKind, Delivery};
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// Appends messages to one JSON-lines file.
#[derive(Debug)]
pub struct FileChannel {
    path: PathBuf,
    file: File,
    seen: HashSet<String>,
}

impl FileChannel {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut seen = HashSet::new();
        if path.exists() {
            for line in BufReader::new(File::open(path)?).lines() {
                let line = line?;
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && let Some(k) = v.get("key").and_then(|k| k.as_str())
                {
                    seen.insert(k.to_string());
                }
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            seen,
        })
    }
}

impl Channel for FileChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::File
    }
    fn send(&mut self, d: &Delivery) -> Outcome {
        if self.seen.contains(&d.key) {
            return Outcome::Sent(format!("already in {}", self.path.display()));
        }
        let line = serde_json::json!({
            "key": d.key,
            "alert": d.alert,
            "recipient": d.recipient,
            "address": d.address,
            "language": d.language,
            "subject": d.subject,
            "text": d.body,
            "at": chrono::Utc::now().to_rfc3339(),
        })
        .to_string();
        let r = writeln!(self.file, "{line}")
            .and_then(|()| self.file.flush())
            .and_then(|()| self.file.sync_data());
        match r {
            Ok(()) => {
                self.seen.insert(d.key.clone());
                Outcome::Sent(format!("appended to {}", self.path.display()))
            }
            Err(e) => Outcome::Retry(format!("writing {}: {e}", self.path.display())),
        }
    }
}
