//! Where hubdex keeps its state and where clients find the daemon.

use std::path::{Path, PathBuf};

use crate::IpcError;

/// Every place on disk hubdex uses, resolved once from the environment.
///
/// `HUBDEX_HOME` moves all of it under one folder (so two homes never share a daemon, and
/// tests use a temp dir); otherwise the platform's data, config and runtime dirs are used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The sled store, the tantivy index and the daemon log live here.
    pub data_dir: PathBuf,
    /// The user's `config.toml`.
    pub config_file: PathBuf,
    /// The private (0700) directory holding the socket and the lock files.
    pub runtime_dir: PathBuf,
    /// The daemon's Unix socket (0600).
    pub socket: PathBuf,
    /// Held locked by the running daemon for its whole life; holds its pid.
    pub pid_file: PathBuf,
    /// Held by a client while it starts a daemon, so two clients never start two.
    pub startup_lock: PathBuf,
    /// Where a daemon started in the background writes its log.
    pub log_file: PathBuf,
    /// Where a daemon says what it does before it answers ([`crate::StartupProgress`]).
    pub startup_progress: PathBuf,
}

impl Paths {
    /// Resolves the paths from `HUBDEX_HOME`, else from the platform's conventions.
    pub fn from_env() -> Result<Paths, IpcError> {
        match std::env::var_os("HUBDEX_HOME").filter(|h| !h.is_empty()) {
            Some(home) => Ok(Paths::under(Path::new(&home))),
            None => {
                let dirs = directories::ProjectDirs::from("", "", "hubdex")
                    .ok_or(IpcError::NoHomeDirectory)?;
                let data_dir = dirs.data_dir().to_path_buf();
                let runtime_dir = dirs
                    .runtime_dir()
                    .map_or_else(|| data_dir.clone(), Path::to_path_buf);
                Ok(Paths::with_dirs(
                    data_dir,
                    dirs.config_dir().join("config.toml"),
                    runtime_dir,
                ))
            }
        }
    }

    /// All state under one folder, as `HUBDEX_HOME` asks.
    pub fn under(home: &Path) -> Paths {
        Paths::with_dirs(
            home.join("data"),
            home.join("config.toml"),
            home.to_path_buf(),
        )
    }

    fn with_dirs(data_dir: PathBuf, config_file: PathBuf, runtime_dir: PathBuf) -> Paths {
        let socket = runtime_dir.join("hubdex.sock");
        Paths {
            log_file: data_dir.join("daemon.log"),
            startup_progress: crate::StartupProgress::file_beside(&socket),
            socket,
            pid_file: runtime_dir.join("daemon.pid"),
            startup_lock: runtime_dir.join("startup.lock"),
            data_dir,
            config_file,
            runtime_dir,
        }
    }

    /// Creates the data dir and the runtime dir (0700, refusing a symlink in its place).
    pub fn create_dirs(&self) -> Result<(), IpcError> {
        create_private_dir(&self.runtime_dir)?;
        std::fs::create_dir_all(&self.data_dir).map_err(|source| IpcError::Dir {
            path: self.data_dir.clone(),
            source,
        })
    }
}

fn create_private_dir(dir: &Path) -> Result<(), IpcError> {
    use std::os::unix::fs::DirBuilderExt;
    let err = |source| IpcError::Dir {
        path: dir.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.file_type().is_symlink() || !meta.is_dir() => Err(IpcError::Dir {
            path: dir.to_path_buf(),
            source: std::io::Error::other("it exists but is not a directory (or is a symlink)"),
        }),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err),
        Err(e) => Err(err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_puts_everything_under_one_folder() {
        let p = Paths::under(Path::new("/tmp/h"));
        assert_eq!(p.socket, Path::new("/tmp/h/hubdex.sock"));
        assert_eq!(p.data_dir, Path::new("/tmp/h/data"));
        assert_eq!(p.config_file, Path::new("/tmp/h/config.toml"));
        assert_eq!(p.log_file, Path::new("/tmp/h/data/daemon.log"));
    }

    #[test]
    fn runtime_dir_is_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = std::env::temp_dir().join(format!("hubdex-paths-{}", std::process::id()));
        let p = Paths::under(&tmp.join("home"));
        p.create_dirs().unwrap();
        let mode = std::fs::metadata(&p.runtime_dir)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        assert!(p.data_dir.is_dir());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
