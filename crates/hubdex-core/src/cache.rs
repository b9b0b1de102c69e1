//! The Hugging Face cache layout, as pure paths (hub-api.md §4), so files hubdex downloads land
//! exactly where `huggingface_hub` and `datasets` look for them, and files they downloaded are
//! found by hubdex.
//!
//! ```text
//! <cache>/.locks/datasets--acme--tiny/<etag>.lock
//! <cache>/datasets--acme--tiny/blobs/<etag>
//! <cache>/datasets--acme--tiny/refs/main                      (the commit, no newline)
//! <cache>/datasets--acme--tiny/snapshots/<commit>/data/a.csv -> ../../../blobs/<etag>
//! <cache>/datasets--acme--tiny/.no_exist/<commit>/<path>
//! ```
//!
//! Every name that comes from the Hub (file paths, etags, commits, ref names) is validated
//! into a newtype before it becomes part of a path, so a hostile listing cannot climb out of
//! the repository's folder. Nothing here touches the disk.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use crate::DatasetId;

/// Why a name from the Hub or a user cannot be used as part of a cache path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheNameError {
    /// A file path that is absolute, empty, or has `.`/`..`/empty parts.
    #[error(
        "`{0}` is not a file path inside a dataset repository (it must be relative, without `.` or `..` parts); the Hub listing is malformed"
    )]
    Path(String),
    /// An etag that is not a plain token of letters and digits.
    #[error(
        "`{0}` is not a usable file etag (expected a sha256 or git sha1 in hex); check that HF_ENDPOINT points at a Hub"
    )]
    Etag(String),
    /// A commit id that is not 40 hex digits.
    #[error("`{0}` is not a commit id (40 hex digits)")]
    Commit(String),
    /// A branch or tag name that cannot be a file under `refs/`.
    #[error(
        "`{0}` is not a usable revision name; give a branch, a tag or a 40-hex commit, e.g. `main`"
    )]
    Ref(String),
}

/// The folder of a dataset inside the cache: `datasets--{ns}--{name}` (case kept).
pub fn repo_folder_name(id: &DatasetId) -> String {
    format!("datasets--{}", id.as_str().replace('/', "--"))
}

/// The dataset a cache folder name belongs to, if it is a dataset folder.
pub fn dataset_of_folder(folder: &str) -> Option<DatasetId> {
    let rest = folder.strip_prefix("datasets--")?;
    DatasetId::new(rest.replacen("--", "/", 1)).ok()
}

/// True for a full commit id (40 hex digits), which `huggingface_hub` uses as is instead of
/// reading `refs/`.
pub fn is_commit_hash(revision: &str) -> bool {
    revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A file path inside a repository (`data/train.parquet`), checked to stay inside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoPath(String);

impl RepoPath {
    /// Validates a path as the Hub lists it: relative, `/`-separated, no `.`, `..` or empty
    /// parts, no NUL.
    pub fn new(path: &str) -> Result<RepoPath, CacheNameError> {
        let ok = !path.is_empty()
            && !path.contains('\0')
            && path
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..");
        if ok {
            Ok(RepoPath(path.to_string()))
        } else {
            Err(CacheNameError::Path(path.to_string()))
        }
    }

    /// The path as the Hub writes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How many folders the file is nested in (`a.csv` → 0, `data/a.csv` → 1).
    pub fn depth(&self) -> usize {
        self.0.matches('/').count()
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A blob's name: the normalised etag of the file (sha256 for LFS files, git blob sha1 for
/// regular ones).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Etag(String);

impl Etag {
    /// Normalises an `ETag`/`X-Linked-Etag` value the way `huggingface_hub` does (a leading
    /// `W/` and the quotes stripped), then checks it is a plain token usable as a file name.
    pub fn new(raw: &str) -> Result<Etag, CacheNameError> {
        let trimmed = raw.trim();
        let token = trimmed
            .strip_prefix("W/")
            .unwrap_or(trimmed)
            .trim_matches('"');
        let ok = !token.is_empty()
            && token.len() <= 128
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Etag(token.to_string()))
        } else {
            Err(CacheNameError::Etag(raw.to_string()))
        }
    }

    /// The etag as it names the blob.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A full commit id, which names a snapshot folder.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Commit(String);

impl Commit {
    /// Checks `sha` is 40 hex digits.
    pub fn new(sha: &str) -> Result<Commit, CacheNameError> {
        if is_commit_hash(sha) {
            Ok(Commit(sha.to_string()))
        } else {
            Err(CacheNameError::Commit(sha.to_string()))
        }
    }

    /// The commit id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Commit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A branch or tag name as a file under `refs/` (`main`, `refs/convert/parquet`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RefName(String);

impl RefName {
    /// Checks `name` can be a relative file path: no `.`, `..` or empty parts, no NUL.
    pub fn new(name: &str) -> Result<RefName, CacheNameError> {
        RepoPath::new(name)
            .map(|p| RefName(p.0))
            .map_err(|_| CacheNameError::Ref(name.to_string()))
    }

    /// The name as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RefName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The paths of one dataset's folder in a cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoCache {
    root: PathBuf,
    folder: String,
}

impl RepoCache {
    /// The layout of `id` in the cache at `root`.
    pub fn new(root: impl Into<PathBuf>, id: &DatasetId) -> RepoCache {
        RepoCache {
            root: root.into(),
            folder: repo_folder_name(id),
        }
    }

    /// The cache root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<cache>/datasets--ns--name`.
    pub fn dir(&self) -> PathBuf {
        self.root.join(&self.folder)
    }

    /// `…/blobs`.
    pub fn blobs_dir(&self) -> PathBuf {
        self.dir().join("blobs")
    }

    /// `…/blobs/<etag>`: the file's bytes, stored once per content.
    pub fn blob(&self, etag: &Etag) -> PathBuf {
        self.blobs_dir().join(etag.as_str())
    }

    /// `…/blobs/<etag>.incomplete`: where a download in progress writes, and resumes from.
    pub fn incomplete(&self, etag: &Etag) -> PathBuf {
        self.blobs_dir().join(format!("{etag}.incomplete"))
    }

    /// `<cache>/.locks/datasets--ns--name`.
    pub fn locks_dir(&self) -> PathBuf {
        self.root.join(".locks").join(&self.folder)
    }

    /// `<cache>/.locks/datasets--ns--name/<etag>.lock`, held while writing that blob.
    pub fn lock(&self, etag: &Etag) -> PathBuf {
        self.locks_dir().join(format!("{etag}.lock"))
    }

    /// `…/snapshots`.
    pub fn snapshots_dir(&self) -> PathBuf {
        self.dir().join("snapshots")
    }

    /// `…/snapshots/<commit>`.
    pub fn snapshot_dir(&self, commit: &Commit) -> PathBuf {
        self.snapshots_dir().join(commit.as_str())
    }

    /// `…/snapshots/<commit>/<path>`: the symlink readers open.
    pub fn snapshot_file(&self, commit: &Commit, path: &RepoPath) -> PathBuf {
        self.snapshot_dir(commit).join(path.as_str())
    }

    /// `…/refs`.
    pub fn refs_dir(&self) -> PathBuf {
        self.dir().join("refs")
    }

    /// `…/refs/<name>` (nested names become nested files).
    pub fn ref_file(&self, name: &RefName) -> PathBuf {
        self.refs_dir().join(name.as_str())
    }

    /// `…/.no_exist/<commit>/<path>`: marks a file known to be absent at that commit.
    pub fn no_exist(&self, commit: &Commit, path: &RepoPath) -> PathBuf {
        self.dir()
            .join(".no_exist")
            .join(commit.as_str())
            .join(path.as_str())
    }
}

/// The relative target of `snapshots/<commit>/<path>`'s symlink to `blobs/<etag>`: two `../`
/// to leave `snapshots/<commit>/`, plus one per folder `path` is nested in.
pub fn symlink_target(path: &RepoPath, etag: &Etag) -> PathBuf {
    let mut target = PathBuf::new();
    for _ in 0..path.depth() + 2 {
        target.push("..");
    }
    target.join("blobs").join(etag.as_str())
}

/// The blob a snapshot symlink points at, if its target has the form `…/blobs/<etag>`.
pub fn blob_of_link(target: &Path) -> Option<Etag> {
    let mut components = target.components().rev();
    let name = match components.next()? {
        Component::Normal(name) => name.to_str()?,
        _ => return None,
    };
    match components.next()? {
        Component::Normal(dir) if dir == "blobs" => Etag::new(name).ok(),
        _ => None,
    }
}

/// The cache root `huggingface_hub` uses: `HF_HUB_CACHE`, else `HUGGINGFACE_HUB_CACHE`, else
/// `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`,
/// with `~` and `$VAR`/`${VAR}` expanded. `env` looks variables up (empty counts as unset)
/// and `home` is the user's home folder, so callers choose where they come from.
///
/// `None` only when the answer needs a home folder and none is known.
pub fn resolve_cache_root(
    env: impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Option<PathBuf> {
    let get = |key: &str| env(key).filter(|v| !v.is_empty());
    let chosen = get("HF_HUB_CACHE")
        .or_else(|| get("HUGGINGFACE_HUB_CACHE"))
        .or_else(|| get("HF_HOME").map(|h| format!("{h}/hub")))
        .or_else(|| get("XDG_CACHE_HOME").map(|x| format!("{x}/huggingface/hub")));
    match chosen {
        Some(text) => expand_path(&text, &get, home),
        None => home.map(|h| h.join(".cache").join("huggingface").join("hub")),
    }
}

/// Python's `expandvars(expanduser(text))`: a leading `~` or `~/` becomes `home`, then
/// `$NAME` and `${NAME}` become the variable's value (unknown ones are left as written).
fn expand_path(
    text: &str,
    env: &impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Option<PathBuf> {
    let user_expanded = match text.strip_prefix('~') {
        Some("") => home?.to_string_lossy().into_owned(),
        Some(rest) if rest.starts_with('/') => format!("{}{rest}", home?.to_string_lossy()),
        _ => text.to_string(),
    };
    Some(PathBuf::from(expand_vars(&user_expanded, env)))
}

fn expand_vars(text: &str, env: &impl Fn(&str) -> Option<String>) -> String {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) if braced[..end].chars().all(is_name) && end > 0 => {
                    (&braced[..end], end + 2)
                }
                _ => ("", 0),
            }
        } else {
            let end = after.find(|c: char| !is_name(c)).unwrap_or(after.len());
            (&after[..end], end)
        };
        match (name.is_empty(), env(name)) {
            (false, Some(value)) => out.push_str(&value),
            _ => out.push_str(&rest[at..at + 1 + consumed]),
        }
        rest = &rest[at + 1 + consumed..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const COMMIT: &str = "3f2c9d1e0b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d";
    const SHA256: &str = "44f8354494a5ba03ba1792a8d3e9c534c47a9181980fde7a3f44b06ef2ae7c7f";

    fn repo() -> RepoCache {
        RepoCache::new("/c", &DatasetId::new("acme/tiny-reviews").unwrap())
    }

    #[test]
    fn the_layout_is_the_one_huggingface_hub_reads() {
        let r = repo();
        let etag = Etag::new(SHA256).unwrap();
        let commit = Commit::new(COMMIT).unwrap();
        let path = RepoPath::new("data/train-00000-of-00001.parquet").unwrap();
        assert_eq!(r.dir(), Path::new("/c/datasets--acme--tiny-reviews"));
        assert_eq!(
            r.blob(&etag),
            Path::new(&format!("/c/datasets--acme--tiny-reviews/blobs/{SHA256}"))
        );
        assert_eq!(
            r.incomplete(&etag),
            Path::new(&format!(
                "/c/datasets--acme--tiny-reviews/blobs/{SHA256}.incomplete"
            ))
        );
        assert_eq!(
            r.lock(&etag),
            Path::new(&format!(
                "/c/.locks/datasets--acme--tiny-reviews/{SHA256}.lock"
            ))
        );
        assert_eq!(
            r.snapshot_file(&commit, &path),
            Path::new(&format!(
                "/c/datasets--acme--tiny-reviews/snapshots/{COMMIT}/data/train-00000-of-00001.parquet"
            ))
        );
        assert_eq!(
            r.ref_file(&RefName::new("main").unwrap()),
            Path::new("/c/datasets--acme--tiny-reviews/refs/main")
        );
        assert_eq!(
            r.ref_file(&RefName::new("refs/convert/parquet").unwrap()),
            Path::new("/c/datasets--acme--tiny-reviews/refs/refs/convert/parquet")
        );
        assert_eq!(
            r.no_exist(&commit, &RepoPath::new("missing.txt").unwrap()),
            Path::new(&format!(
                "/c/datasets--acme--tiny-reviews/.no_exist/{COMMIT}/missing.txt"
            ))
        );
    }

    #[test]
    fn folder_names_round_trip_and_keep_case() {
        let id = DatasetId::new("OpenAI/GSM8K").unwrap();
        assert_eq!(repo_folder_name(&id), "datasets--OpenAI--GSM8K");
        assert_eq!(dataset_of_folder("datasets--OpenAI--GSM8K"), Some(id));
        let canonical = DatasetId::new("glue").unwrap();
        assert_eq!(repo_folder_name(&canonical), "datasets--glue");
        assert_eq!(dataset_of_folder("datasets--glue"), Some(canonical));
        assert_eq!(dataset_of_folder("models--gpt2"), None);
        assert_eq!(dataset_of_folder(".locks"), None);
    }

    #[test]
    fn symlinks_climb_one_more_level_per_nested_folder() {
        let etag = Etag::new("ce013625030ba8dba906f756967f9e9ca394464a").unwrap();
        let top = symlink_target(&RepoPath::new("README.md").unwrap(), &etag);
        assert_eq!(
            top,
            Path::new("../../blobs/ce013625030ba8dba906f756967f9e9ca394464a")
        );
        let nested = symlink_target(&RepoPath::new("data/x/y.csv").unwrap(), &etag);
        assert_eq!(
            nested,
            Path::new("../../../../blobs/ce013625030ba8dba906f756967f9e9ca394464a")
        );
        // The link resolves to the blob from the link's own folder.
        let r = repo();
        let commit = Commit::new(COMMIT).unwrap();
        let link = r.snapshot_file(&commit, &RepoPath::new("data/x/y.csv").unwrap());
        let mut resolved = link.parent().unwrap().to_path_buf();
        for part in nested.components() {
            match part {
                Component::ParentDir => {
                    resolved.pop();
                }
                other => resolved.push(other),
            }
        }
        assert_eq!(resolved, r.blob(&etag));
        assert_eq!(blob_of_link(&nested), Some(etag));
        assert_eq!(blob_of_link(Path::new("../../elsewhere/abc")), None);
    }

    #[test]
    fn hostile_names_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../b",
            "a//b",
            "a/./b",
            "a/",
            "a\0b",
        ] {
            assert!(RepoPath::new(bad).is_err(), "{bad:?}");
        }
        for bad in ["", "\"\"", "../x", "a/b", "a b"] {
            assert!(Etag::new(bad).is_err(), "{bad:?}");
        }
        assert!(RefName::new("../../etc").is_err());
        assert!(Commit::new("main").is_err());
        assert!(Commit::new(&"g".repeat(40)).is_err());
        assert!(is_commit_hash(COMMIT));
        assert!(!is_commit_hash("main"));
    }

    #[test]
    fn etags_are_normalised_like_huggingface_hub_does() {
        assert_eq!(Etag::new("\"abc123\"").unwrap().as_str(), "abc123");
        assert_eq!(Etag::new("W/\"abc123\"").unwrap().as_str(), "abc123");
        assert_eq!(Etag::new(" abc123 ").unwrap().as_str(), "abc123");
    }

    fn root(vars: &[(&str, &str)], home: Option<&str>) -> Option<PathBuf> {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve_cache_root(|k| env.get(k).cloned(), home.map(Path::new))
    }

    #[test]
    fn cache_root_follows_huggingface_hub_precedence() {
        let all = [
            ("HF_HUB_CACHE", "/a"),
            ("HUGGINGFACE_HUB_CACHE", "/b"),
            ("HF_HOME", "/c"),
            ("XDG_CACHE_HOME", "/d"),
        ];
        assert_eq!(root(&all, Some("/h")), Some(PathBuf::from("/a")));
        assert_eq!(root(&all[1..], Some("/h")), Some(PathBuf::from("/b")));
        assert_eq!(root(&all[2..], Some("/h")), Some(PathBuf::from("/c/hub")));
        assert_eq!(
            root(&all[3..], Some("/h")),
            Some(PathBuf::from("/d/huggingface/hub"))
        );
        assert_eq!(
            root(&[], Some("/h")),
            Some(PathBuf::from("/h/.cache/huggingface/hub"))
        );
        assert_eq!(root(&[("HF_HUB_CACHE", "")], None), None);
    }

    #[test]
    fn tilde_and_variables_are_expanded() {
        assert_eq!(
            root(&[("HF_HOME", "~/hf")], Some("/home/u")),
            Some(PathBuf::from("/home/u/hf/hub"))
        );
        assert_eq!(
            root(
                &[
                    ("HF_HUB_CACHE", "$BASE/x/${SUB}/y"),
                    ("BASE", "/b"),
                    ("SUB", "s")
                ],
                None
            ),
            Some(PathBuf::from("/b/x/s/y"))
        );
        // Unknown variables stay as written, as in Python's expandvars.
        assert_eq!(
            root(&[("HF_HUB_CACHE", "/p/$NOPE/${ALSO_NOPE}/$")], None),
            Some(PathBuf::from("/p/$NOPE/${ALSO_NOPE}/$"))
        );
        assert_eq!(
            root(&[("HF_HUB_CACHE", "~other/c")], None),
            Some(PathBuf::from("~other/c"))
        );
    }
}
