//! The `picojoule` package: the `pj` command line (`src/main.rs`) and the
//! small amount of I/O it shares with the tests.
#![warn(missing_docs)]

pub mod image_io;
pub mod npy;
pub mod roofline;

use anyhow::{Context, Result, anyhow, bail};
use std::path::Path;

/// Writes files whole or not at all: each goes to a temporary file next to
/// its destination, and only when all are complete are they renamed into
/// place. A failure leaves no partial output behind.
pub fn write_atomic(files: &[(&Path, &[u8])]) -> Result<()> {
    use std::io::Write as _;
    let mut staged = Vec::new();
    for (path, bytes) in files {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            bail!(
                "cannot write `{}`: directory `{}` does not exist",
                path.display(),
                dir.display()
            );
        }
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("cannot create a file in `{}`", dir.display()))?;
        tmp.write_all(bytes)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        tmp.flush()?;
        // a temporary file is private (0600); an output is an ordinary file
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
                .with_context(|| format!("cannot write `{}`", path.display()))?;
        }
        staged.push((tmp, *path));
    }
    for (tmp, path) in staged {
        tmp.persist(path)
            .map_err(|e| anyhow!("cannot write `{}`: {}", path.display(), e.error))?;
    }
    Ok(())
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
}
