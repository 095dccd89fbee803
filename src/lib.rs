//! The `picojoule` package: the `pj` command line (`src/main.rs`) and the
//! small amount of I/O it shares with the tests.
#![warn(missing_docs)]

pub mod difftest;
pub mod image_io;
pub mod npy;
pub mod roofline;

use anyhow::{Context, Result, anyhow, bail};
use std::path::Path;

/// Writes files whole or not at all: each regular file (or new one) goes
/// to a temporary file next to its destination, and only when all are
/// complete are they renamed into place, keeping an existing file's mode
/// and owner. A failure leaves no partial output behind. A symbolic link
/// is followed to the file it names; a device or FIFO (`/dev/null`,
/// `/dev/stdout`, a named pipe) is written through, never replaced; a
/// directory is refused.
pub fn write_atomic(files: &[(&Path, &[u8])]) -> Result<()> {
    let parts: Vec<(&Path, [&[u8]; 1])> = files.iter().map(|&(p, b)| (p, [b])).collect();
    let parts: Vec<(&Path, &[&[u8]])> = parts.iter().map(|(p, b)| (*p, &b[..])).collect();
    write_atomic_parts(&parts)
}

/// [`write_atomic`] for files whose bytes come in several parts (a header
/// and a large buffer), written one after the other without a copy.
pub fn write_atomic_parts(files: &[(&Path, &[&[u8]])]) -> Result<()> {
    use std::io::Write as _;
    let mut staged = Vec::new();
    let mut through = Vec::new();
    for (path, bytes) in files {
        let target = follow_links(path)?;
        let existing = std::fs::metadata(&target).ok();
        if let Some(meta) = &existing {
            if meta.is_dir() {
                bail!("cannot write `{}`: it is a directory", path.display());
            }
            if !meta.is_file() {
                through.push((target, *bytes, *path));
                continue;
            }
        }
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        if !dir.is_dir() {
            bail!(
                "cannot write `{}`: directory `{}` does not exist",
                path.display(),
                dir.display()
            );
        }
        let mut tmp = tempfile::NamedTempFile::new_in(&dir)
            .with_context(|| format!("cannot create a file in `{}`", dir.display()))?;
        for part in bytes.iter() {
            tmp.write_all(part)
                .with_context(|| format!("cannot write `{}`", path.display()))?;
        }
        tmp.flush()?;
        // a temporary file is private (0600): an output keeps the mode and
        // owner of the file it replaces, and a new one is an ordinary file
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
            let mode = existing
                .as_ref()
                .map_or(0o644, |m| m.permissions().mode() & 0o7777);
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("cannot write `{}`", path.display()))?;
            if let Some(m) = &existing {
                // only root may give a file away; others keep their own
                let _ = std::os::unix::fs::fchown(tmp.as_file(), Some(m.uid()), Some(m.gid()));
            }
        }
        staged.push((tmp, target, *path));
    }
    for (target, bytes, path) in through {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&target)
            .with_context(|| format!("cannot open `{}` for writing", path.display()))?;
        for part in bytes.iter() {
            f.write_all(part)
                .with_context(|| format!("cannot write `{}`", path.display()))?;
        }
    }
    for (tmp, target, path) in staged {
        tmp.persist(&target)
            .map_err(|e| anyhow!("cannot write `{}`: {}", path.display(), e.error))?;
    }
    Ok(())
}

/// `path`, or the file its chain of symbolic links ends at (which need
/// not exist yet).
fn follow_links(path: &Path) -> Result<std::path::PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&p)
                    .with_context(|| format!("cannot read the link `{}`", p.display()))?;
                p = match p.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(p),
        }
    }
    bail!(
        "cannot write `{}`: too many levels of symbolic links",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[test]
    fn outputs_are_ordinary_files_not_private_temporaries() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.npy");
        super::write_atomic(&[(&p, b"data")]).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert_eq!(std::fs::read(&p).unwrap(), b"data");
    }

    #[cfg(unix)]
    #[test]
    fn only_regular_files_are_replaced() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        // an existing file keeps its mode
        let private = dir.path().join("private.npy");
        std::fs::write(&private, b"old").unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
        super::write_atomic(&[(&private, b"new")]).unwrap();
        let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            (mode, std::fs::read(&private).unwrap()),
            (0o600, b"new".to_vec())
        );
        // a link is followed, and stays a link
        let target = dir.path().join("target.npy");
        let link = dir.path().join("link.npy");
        std::os::unix::fs::symlink("target.npy", &link).unwrap();
        super::write_atomic(&[(&link, b"via link")]).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"via link");
        // a device is written through, not replaced
        super::write_atomic(&[(std::path::Path::new("/dev/null"), b"gone")]).unwrap();
        use std::os::unix::fs::FileTypeExt as _;
        assert!(
            std::fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
        // a directory is refused
        let err = super::write_atomic(&[(dir.path(), b"x")]).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
    }
}
