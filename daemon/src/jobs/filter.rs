//! `--include` / `--exclude` globs, matched the way `huggingface_hub`'s `allow_patterns` and
//! `ignore_patterns` are (fnmatch: `*` also matches `/`; a pattern ending in `/` means
//! everything below that folder).

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// Which repository files a job takes.
#[derive(Debug, Clone)]
pub(crate) struct FileFilter {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

impl FileFilter {
    /// Compiles the patterns; the error names the bad one and says how to write it.
    pub(crate) fn new(include: &[String], exclude: &[String]) -> Result<FileFilter, String> {
        Ok(FileFilter {
            include: compile(include)?,
            exclude: compile(exclude)?,
        })
    }

    /// True when `path` matches an include pattern (or there are none) and no exclude one.
    pub(crate) fn matches(&self, path: &str) -> bool {
        self.include.as_ref().is_none_or(|set| set.is_match(path))
            && !self.exclude.as_ref().is_some_and(|set| set.is_match(path))
    }
}

fn compile(patterns: &[String]) -> Result<Option<GlobSet>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let text = if pattern.ends_with('/') {
            format!("{pattern}*")
        } else {
            pattern.clone()
        };
        let glob = GlobBuilder::new(&text)
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .map_err(|e| {
                format!(
                    "`{pattern}` is not a usable glob: {}; write e.g. `*.parquet` or `data/train-*`",
                    e.kind()
                )
            })?;
        builder.add(glob);
    }
    builder
        .build()
        .map(Some)
        .map_err(|e| format!("the globs cannot be combined: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(include: &[&str], exclude: &[&str]) -> FileFilter {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        FileFilter::new(&own(include), &own(exclude)).unwrap()
    }

    #[test]
    fn no_patterns_take_everything() {
        assert!(filter(&[], &[]).matches("data/train.parquet"));
    }

    #[test]
    fn star_crosses_folders_like_fnmatch() {
        let f = filter(&["*.parquet"], &[]);
        assert!(f.matches("data/train-00000-of-00001.parquet"));
        assert!(f.matches("x.parquet"));
        assert!(!f.matches("README.md"));
    }

    #[test]
    fn a_trailing_slash_means_the_whole_folder() {
        let f = filter(&["data/"], &[]);
        assert!(f.matches("data/a/b.csv"));
        assert!(!f.matches("README.md"));
    }

    #[test]
    fn exclude_wins_over_include() {
        let f = filter(&["*"], &["*.md", "test-*"]);
        assert!(f.matches("train.csv"));
        assert!(!f.matches("README.md"));
        assert!(!f.matches("test-0.csv"));
    }

    #[test]
    fn a_broken_pattern_is_named() {
        let err = FileFilter::new(&["data/[".to_string()], &[]).unwrap_err();
        assert!(err.contains("data/["), "{err}");
    }
}
