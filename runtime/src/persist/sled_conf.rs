//! sled's `conf` file: checked, and rebuilt when torn, before sled opens.
//!
//! sled 0.34 writes a 62-byte `conf` (its storage parameters, then a CRC-32
//! of them) when it creates a database and never fsyncs it. Cut by a power
//! loss it can be left torn (short, or with garbage at the end), and sled
//! then refuses to open ("Read corrupted data"), so the core would never
//! start again. The file only holds what sled derives from the
//! `sled::Config` this module's caller always opens with (segment size,
//! compression off, sled's own version), so a torn one is removed and sled
//! writes the same bytes again on open; the caller then fsyncs it (see
//! `durable::sync_tree`).

use std::path::Path;

/// Name of sled's parameter file inside its directory.
pub const CONF: &str = "conf";

/// Why `bytes` is not a `conf` sled wrote completely, or `None` if it is:
/// parameters, then the little-endian CRC-32 (IEEE) of them.
pub fn damage(bytes: &[u8]) -> Option<String> {
    if bytes.len() <= 8 {
        return Some(format!("only {} bytes long", bytes.len()));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    let expected = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
    let actual = crc32fast::hash(body);
    (expected != actual).then(|| {
        format!(
            "checksum {actual:08x} of its {} bytes does not match the stored {expected:08x}",
            bytes.len()
        )
    })
}

/// Removes `dir/conf` if it is torn (sled writes it afresh on open);
/// answers what was wrong with it, if anything. A missing file is fine
/// (sled creates it).
pub fn remove_if_torn(dir: &Path) -> Result<Option<String>, String> {
    let path = dir.join(CONF);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
    };
    let Some(why) = damage(&bytes) else {
        return Ok(None);
    };
    std::fs::remove_file(&path)
        .map_err(|e| format!("{}: cannot remove the torn file: {e}", path.display()))?;
    Ok(Some(why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conf_sled_wrote_passes_and_a_torn_one_is_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("s");
        drop(sled::Config::new().path(&dir).open().unwrap());
        let good = std::fs::read(dir.join(CONF)).unwrap();
        assert_eq!(damage(&good), None);
        assert_eq!(remove_if_torn(&dir).unwrap(), None);
        let mut torn = good.clone();
        torn.truncate(40);
        assert!(damage(&torn).unwrap().contains("checksum"));
        assert!(damage(&good[..6]).unwrap().contains("6 bytes"));
        std::fs::write(dir.join(CONF), &torn).unwrap();
        assert!(remove_if_torn(&dir).unwrap().is_some());
        assert!(!dir.join(CONF).exists());
        assert_eq!(remove_if_torn(&dir).unwrap(), None);
    }
}
