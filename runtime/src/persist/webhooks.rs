//! The webhook registrations and their cursors on disk: one small JSON
//! file, `<data_dir>/webhooks/webhooks.json`, rewritten whole for every
//! change (write a temporary file, fsync it, rename it over the old one,
//! fsync the directory), so a crash leaves either the old file or the new
//! one, never a mix. It stays out of the order journal and its codec.
//!
//! Registrations are written before a `PUT` or `DELETE` is acknowledged;
//! cursors are written by the delivery thread periodically and at
//! shutdown. A cursor on disk is never ahead of what was delivered, so a
//! restart can repeat a delivery but never skip one. In durability mode
//! `none` there is no store (registrations live in memory only); in mode
//! `os` the file is written without fsync, like the journal. In power-loss
//! tests (`ORCH_DURABLE_LOG`) it records the file's durable length.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use orch_config::{DurabilityConfig, DurabilityMode};
use orch_journal::DurableLog;
use serde::{Deserialize, Serialize};

/// The file's format version; a file naming another is refused at start.
pub const FORMAT: u32 = 1;

/// One registration as stored (the secret too: deliveries are signed with it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredWebhook {
    /// The client's id.
    pub webhook_id: String,
    /// Where events are POSTed.
    pub url: String,
    /// The signing secret.
    pub secret: String,
    /// Event type names (empty: every type).
    pub types: Vec<String>,
    /// Whether deliveries are on.
    pub enabled: bool,
    /// Every event up to this `seq` was delivered or is not for it.
    pub cursor: u64,
}

#[derive(Serialize, Deserialize)]
struct File1 {
    format: u32,
    webhooks: Vec<StoredWebhook>,
}

/// The store under a data directory.
#[derive(Debug, Clone)]
pub struct WebhookStore {
    dir: PathBuf,
    fsync: bool,
    /// Power-loss tests (`ORCH_DURABLE_LOG`): what was made durable.
    durable_log: Option<Arc<DurableLog>>,
}

impl WebhookStore {
    /// The store for this durability config (`None` in mode `none`). Creates
    /// the directory.
    pub fn open(cfg: &DurabilityConfig) -> Result<Option<WebhookStore>, String> {
        if cfg.mode == DurabilityMode::None {
            return Ok(None);
        }
        let dir = Path::new(&cfg.data_dir).join("webhooks");
        fs::create_dir_all(&dir)
            .map_err(|e| format!("webhooks: cannot create {}: {e}", dir.display()))?;
        Ok(Some(WebhookStore {
            dir,
            fsync: cfg.mode == DurabilityMode::Fsync,
            durable_log: super::durable::durable_log()?,
        }))
    }

    fn path(&self) -> PathBuf {
        self.dir.join("webhooks.json")
    }

    /// What the file holds (nothing when it does not exist yet). A file
    /// that does not parse is an error naming it: nothing starts rather
    /// than forgetting registrations.
    pub fn load(&self) -> Result<Vec<StoredWebhook>, String> {
        let path = self.path();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("webhooks: cannot read {}: {e}", path.display())),
        };
        let file: File1 = serde_json::from_slice(&bytes)
            .map_err(|e| format!("webhooks: {} does not parse: {e}", path.display()))?;
        if file.format != FORMAT {
            return Err(format!(
                "webhooks: {} is in format {}, this build reads format {FORMAT}",
                path.display(),
                file.format
            ));
        }
        Ok(file.webhooks)
    }

    /// Replaces the file's content with `webhooks`; returns once it is
    /// durable (mode `fsync`) or written (mode `os`).
    pub fn save(&self, webhooks: &[StoredWebhook]) -> io::Result<()> {
        let body = serde_json::to_vec_pretty(&File1 {
            format: FORMAT,
            webhooks: webhooks.to_vec(),
        })
        .map_err(io::Error::other)?;
        let tmp = self.dir.join("webhooks.json.tmp");
        {
            let mut f = open_private(&tmp)?;
            f.write_all(&body)?;
            if self.fsync {
                f.sync_all()?;
            }
        }
        let path = self.path();
        let log = self.durable_log.as_deref().filter(|_| self.fsync);
        if let Some(log) = log {
            // Power-loss tests: the harness cuts a file back to its last
            // recorded length, which does not model a rename. From here
            // until the directory is synced the name holds either the old
            // whole file or the new one (both fsynced), so the length
            // recorded must cut neither.
            let old = fs::metadata(&path).map_or(0, |m| m.len());
            log.record(&path, old.max(body.len() as u64));
        }
        fs::rename(&tmp, &path)?;
        if self.fsync {
            File::open(&self.dir)?.sync_all()?;
        }
        if let Some(log) = log {
            log.record(&path, body.len() as u64);
        }
        Ok(())
    }
}

/// A new file only its owner may read (it holds the secrets).
fn open_private(path: &Path) -> io::Result<File> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(dir: &Path, mode: DurabilityMode) -> DurabilityConfig {
        DurabilityConfig {
            mode,
            data_dir: dir.display().to_string(),
            ..DurabilityConfig::default()
        }
    }

    fn hook(id: &str, cursor: u64) -> StoredWebhook {
        StoredWebhook {
            webhook_id: id.into(),
            url: "http://127.0.0.1:9/hook".into(),
            secret: "s".into(),
            types: vec!["order.placed".into()],
            enabled: true,
            cursor,
        }
    }

    #[test]
    fn saved_registrations_load_again_and_mode_none_has_no_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = WebhookStore::open(&cfg(dir.path(), DurabilityMode::Fsync))
            .unwrap()
            .unwrap();
        assert_eq!(store.load().unwrap(), Vec::new());
        store.save(&[hook("a", 3), hook("b", 0)]).unwrap();
        store.save(&[hook("a", 7)]).unwrap();
        let again = WebhookStore::open(&cfg(dir.path(), DurabilityMode::Fsync))
            .unwrap()
            .unwrap();
        assert_eq!(again.load().unwrap(), vec![hook("a", 7)]);
        assert!(WebhookStore::open(&cfg(dir.path(), DurabilityMode::None))
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_damaged_or_foreign_file_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = WebhookStore::open(&cfg(dir.path(), DurabilityMode::Os))
            .unwrap()
            .unwrap();
        fs::write(store.path(), b"{\"format\":1,\"webh").unwrap();
        assert!(store.load().unwrap_err().contains("webhooks.json"));
        fs::write(store.path(), b"{\"format\":9,\"webhooks\":[]}").unwrap();
        assert!(store.load().unwrap_err().contains("format 9"));
    }
}
