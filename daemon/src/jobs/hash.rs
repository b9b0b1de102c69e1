//! The checksums a downloaded file must match: sha256 of the content for LFS files, the git
//! blob sha1 (`sha1("blob <len>\0" + bytes)`) for regular ones. Both are computed while the
//! bytes stream to disk.

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Which checksum names a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashKind {
    /// sha256 of the content: LFS files, whose etag is `lfs.oid`.
    Sha256,
    /// The git blob id: regular files, whose etag is the tree `oid`.
    GitBlobSha1,
}

impl HashKind {
    /// The name used in messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            HashKind::Sha256 => "sha256",
            HashKind::GitBlobSha1 => "git blob sha1",
        }
    }
}

#[derive(Clone)]
enum State {
    Sha256(Sha256),
    Sha1(Sha1),
}

/// A running checksum over a file's bytes.
#[derive(Clone)]
pub(crate) struct ContentHasher {
    state: State,
}

impl ContentHasher {
    /// Starts a checksum of `kind` for a file of `size` bytes (the git blob header needs the
    /// size first; a file that turns out to have another size fails its size check anyway).
    pub(crate) fn new(kind: HashKind, size: u64) -> ContentHasher {
        let state = match kind {
            HashKind::Sha256 => State::Sha256(Sha256::new()),
            HashKind::GitBlobSha1 => {
                let mut sha1 = Sha1::new();
                sha1.update(format!("blob {size}\0").as_bytes());
                State::Sha1(sha1)
            }
        };
        ContentHasher { state }
    }

    /// Adds bytes.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match &mut self.state {
            State::Sha256(h) => h.update(bytes),
            State::Sha1(h) => h.update(bytes),
        }
    }

    /// The checksum in lowercase hex.
    pub(crate) fn finish(self) -> String {
        match self.state {
            State::Sha256(h) => hex(&h.finalize()),
            State::Sha1(h) => hex(&h.finalize()),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(kind: HashKind, parts: &[&[u8]]) -> String {
        let size = parts.iter().map(|p| p.len() as u64).sum();
        let mut h = ContentHasher::new(kind, size);
        for p in parts {
            h.update(p);
        }
        h.finish()
    }

    #[test]
    fn git_blob_ids_match_git() {
        // `printf 'hello\n' | git hash-object --stdin`, as in hub-api.md §2.2.
        assert_eq!(
            digest(HashKind::GitBlobSha1, &[b"hello\n"]),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        // The empty blob.
        assert_eq!(
            digest(HashKind::GitBlobSha1, &[]),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
    }

    #[test]
    fn sha256_is_the_same_however_the_bytes_are_split() {
        let whole = digest(HashKind::Sha256, &[b"hello world"]);
        assert_eq!(
            whole,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(digest(HashKind::Sha256, &[b"hello", b" ", b"world"]), whole);
    }
}
