//! Files and directories only certgate's own user may read: the data directory (0700), the
//! SQLite database (0600; SQLite gives its `-wal` and `-shm` files the database's mode) and
//! every private key, PKCS#12 bundle or secret certgate writes (0600).
//!
//! The modes are set explicitly after creation, so they hold whatever the umask (a umask of
//! 022 would otherwise leave a key readable by every local user) and also when the file was
//! already there with a wider mode. On platforms without Unix modes these are plain file
//! operations.

use std::io::{self, Write as _};
use std::path::Path;

/// Owner read/write/search only.
pub const DIRECTORY_MODE: u32 = 0o700;
/// Owner read/write only.
pub const FILE_MODE: u32 = 0o600;

/// Creates `path` and any missing parents; a directory created here is 0700. An existing
/// directory keeps its mode: the administrator may have set it up (a systemd
/// `StateDirectory=`, a shared mount) and certgate does not second-guess that.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(DIRECTORY_MODE);
    }
    builder.create(path)?;
    set_mode(path, DIRECTORY_MODE)
}

/// Writes `bytes` to `path` (created or truncated) with mode 0600, and syncs it to disk.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = open_private(path, true)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes sure the file at `path` exists and is 0600, without touching its content: for a file
/// another library then opens (the SQLite database, created here before SQLite would create
/// it with the umask's mode).
pub fn create_or_restrict(path: &Path) -> io::Result<()> {
    open_private(path, false).map(drop)
}

fn open_private(path: &Path, truncate: bool) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(FILE_MODE);
    }
    let file = options.open(path)?;
    // The mode given at creation is masked by the umask and ignored for an existing file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(file)
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_are_0600_even_when_they_existed_with_a_wider_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

        write(&path, b"new").unwrap();

        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"new");

        let database = dir.path().join("certgate.db");
        create_or_restrict(&database).unwrap();
        assert_eq!(mode(&database), 0o600);
        std::fs::write(&database, b"content").unwrap();
        std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o664)).unwrap();
        create_or_restrict(&database).unwrap();
        assert_eq!(mode(&database), 0o600);
        assert_eq!(std::fs::read(&database).unwrap(), b"content");
    }

    #[test]
    fn created_directories_are_0700() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_dir_all(&nested).unwrap();
        assert_eq!(mode(&nested), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
    }
}
