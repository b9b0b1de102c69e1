//! What each kind of job does, start to finish. Each returns a one-line summary for the job
//! record, or the error that failed it.

use std::collections::BTreeSet;
use std::time::Instant;

use hubdex_core::cache::{Commit, RefName, is_commit_hash};
use hubdex_hub::TreeEntry;
use hubdex_ipc::{DeleteParams, DownloadParams, UpdateParams};

use super::disk;
use super::error::JobError;
use super::fetch::{self, Ctx};
use super::filter::FileFilter;
use super::store::{JobStore, Selection};

/// Resolves `revision` to its commit and lists that commit's whole tree.
async fn resolve(ctx: &Ctx, revision: &str) -> Result<(Commit, Vec<TreeEntry>), JobError> {
    let info = ctx
        .hub
        .revision_info(&ctx.id, revision)
        .await
        .map_err(|e| JobError::hub(format!("revision `{revision}` of `{}`", ctx.id), e))?;
    let commit = Commit::new(&info.sha)?;
    ctx.tracker.set_commit(commit.as_str());
    let entries = ctx
        .hub
        .list_files(&ctx.id, commit.as_str(), None, true)
        .await
        .map_err(|e| {
            JobError::hub(
                format!("the file list of `{}` at {}", ctx.id, short(&commit)),
                e,
            )
        })?;
    Ok((commit, entries))
}

/// The first 8 digits of a commit, as shown to people.
fn short(commit: &Commit) -> &str {
    &commit.as_str()[..8]
}

/// `download`: fetch the revision's (selected) files, link the snapshot, write the ref.
pub(crate) async fn download(
    ctx: &Ctx,
    store: &JobStore,
    params: &DownloadParams,
) -> Result<String, JobError> {
    let filter = FileFilter::new(&params.include, &params.exclude).map_err(JobError::Refused)?;
    let branch = ref_name(&params.revision)?;
    let (commit, entries) = resolve(ctx, &params.revision).await?;
    let tasks = fetch::plan(&entries, |path| filter.matches(path))?;
    if tasks.is_empty() && !(params.include.is_empty() && params.exclude.is_empty()) {
        return Err(JobError::Refused(format!(
            "no file of `{}` at `{}` matches --include {:?} --exclude {:?}; check the globs (`*` also matches `/`, e.g. `*.parquet`)",
            ctx.id, params.revision, params.include, params.exclude
        )));
    }
    fetch::fetch_all(ctx, &commit, tasks).await?;
    if let Some(branch) = &branch {
        let (repo, branch, commit) = (ctx.repo.clone(), branch.clone(), commit.clone());
        ctx.blocking(move || disk::write_ref(&repo, &branch, &commit))
            .await??;
    }
    store.put_selection(
        &ctx.id,
        &params.revision,
        &Selection {
            include: params.include.clone(),
            exclude: params.exclude.clone(),
        },
    )?;
    let p = ctx.tracker.snapshot(Instant::now());
    Ok(format!(
        "{} ({}) of `{}` at {} in {}: {} fetched ({}), {} already in the cache",
        count(p.files_total, "file"),
        human_bytes(p.bytes_total),
        ctx.id,
        short(&commit),
        ctx.repo.dir().display(),
        p.files_done - p.files_cached,
        human_bytes(p.bytes_fetched),
        p.files_cached
    ))
}

/// `update`: move a downloaded branch to its newest commit. Only files whose content changed
/// are fetched; the old snapshot stays until the new one is complete, then goes with the
/// blobs nothing else uses.
pub(crate) async fn update(
    ctx: &Ctx,
    store: &JobStore,
    params: &UpdateParams,
) -> Result<String, JobError> {
    let Some(branch) = ref_name(&params.revision)? else {
        return Err(JobError::Refused(format!(
            "`{}` is a commit, which never changes; update takes a branch or tag such as `main`",
            params.revision
        )));
    };
    let old = {
        let (repo, branch) = (ctx.repo.clone(), branch.clone());
        ctx.blocking(move || disk::read_ref(&repo, &branch)).await?
    };
    let Some(old) = old else {
        return Err(JobError::Refused(format!(
            "`{}` at `{}` is not in the cache ({} has no refs/{}); download it first with `hubdex download {} --revision {}`",
            ctx.id,
            params.revision,
            ctx.repo.dir().display(),
            params.revision,
            ctx.id,
            params.revision
        )));
    };
    let (new, entries) = resolve(ctx, &params.revision).await?;
    let old_snapshot = ctx.repo.snapshot_dir(&old);
    if new == old
        && tokio::fs::metadata(&old_snapshot)
            .await
            .is_ok_and(|m| m.is_dir())
    {
        return Ok(format!(
            "`{}` at `{}` is already up to date ({})",
            ctx.id,
            params.revision,
            short(&new)
        ));
    }
    let tasks = match store.selection(&ctx.id, &params.revision) {
        Some(selection) => {
            let filter = FileFilter::new(&selection.include, &selection.exclude)
                .map_err(JobError::Refused)?;
            fetch::plan(&entries, |path| filter.matches(path))?
        }
        None => {
            // Downloaded by another program: keep the same set of files.
            let (repo, commit) = (ctx.repo.clone(), old.as_str().to_string());
            let had: BTreeSet<String> = ctx
                .blocking(move || disk::snapshot_entries(&repo, &commit).into_keys().collect())
                .await?;
            fetch::plan(&entries, |path| had.contains(path))?
        }
    };
    fetch::fetch_all(ctx, &new, tasks).await?;
    let (repo, branch_c, new_c, old_c) =
        (ctx.repo.clone(), branch.clone(), new.clone(), old.clone());
    let freed = ctx
        .blocking(move || -> Result<disk::Freed, disk::DiskError> {
            disk::write_ref(&repo, &branch_c, &new_c)?;
            let mut freed = disk::Freed::default();
            if old_c != new_c && disk::remove_snapshot_if_unreferenced(&repo, &old_c)? {
                freed = disk::remove_unused_blobs(&repo)?;
                freed.snapshots = 1;
            }
            Ok(freed)
        })
        .await??;
    let p = ctx.tracker.snapshot(Instant::now());
    Ok(format!(
        "moved `{}` of `{}` from {} to {}: {} of {} fetched ({}); the old snapshot {}",
        params.revision,
        ctx.id,
        short(&old),
        short(&new),
        p.files_done - p.files_cached,
        count(p.files_total, "file"),
        human_bytes(p.bytes_fetched),
        if freed.snapshots > 0 {
            format!(
                "was removed, freeing {} in {}",
                human_bytes(freed.bytes),
                count(freed.blobs, "blob")
            )
        } else {
            "is kept (another ref points at it)".to_string()
        }
    ))
}

/// `delete`: remove one revision (keeping blobs other snapshots use) or everything.
pub(crate) async fn delete(ctx: &Ctx, params: &DeleteParams) -> Result<String, JobError> {
    let repo = ctx.repo.clone();
    let dir = repo.dir();
    if tokio::fs::symlink_metadata(&dir).await.is_err() {
        return Err(JobError::Refused(format!(
            "nothing of `{}` is in the cache ({} does not exist)",
            ctx.id,
            dir.display()
        )));
    }
    let freed = match (&params.revision, params.all) {
        (None, true) => ctx.blocking(move || disk::remove_all(&repo)).await??,
        (Some(revision), false) => {
            let commit = if is_commit_hash(revision) {
                Some(Commit::new(&revision.to_ascii_lowercase())?)
            } else {
                let name = RefName::new(revision)?;
                let repo = repo.clone();
                ctx.blocking(move || disk::read_ref(&repo, &name)).await?
            };
            let present = match &commit {
                Some(c) => tokio::fs::metadata(repo.snapshot_dir(c)).await.is_ok(),
                None => false,
            };
            let Some(commit) = commit.filter(|_| present) else {
                let have = {
                    let repo = repo.clone();
                    ctx.blocking(move || disk::refs(&repo)).await?
                };
                let listed: Vec<String> = have
                    .iter()
                    .map(|(name, target)| format!("{name} ({})", &target[..target.len().min(8)]))
                    .collect();
                return Err(JobError::Refused(format!(
                    "`{}` has no revision `{revision}` in the cache; it has {}",
                    ctx.id,
                    if listed.is_empty() {
                        "no named revisions".to_string()
                    } else {
                        listed.join(", ")
                    }
                )));
            };
            ctx.tracker.set_commit(commit.as_str());
            ctx.blocking(move || disk::remove_revision(&repo, &commit))
                .await??
        }
        _ => {
            return Err(JobError::Refused(
                "give either a revision or all, not both and not neither".to_string(),
            ));
        }
    };
    Ok(format!(
        "removed {} and {} of `{}`, freeing {}",
        count(freed.snapshots, "snapshot"),
        count(freed.blobs, "blob"),
        ctx.id,
        human_bytes(freed.bytes)
    ))
}

/// The ref to write for `revision`: `None` for a commit (`huggingface_hub` writes no ref
/// then), else the validated name.
fn ref_name(revision: &str) -> Result<Option<RefName>, JobError> {
    if is_commit_hash(revision) {
        Ok(None)
    } else {
        Ok(Some(RefName::new(revision)?))
    }
}

/// `3 files`, `1 file`.
pub(crate) fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Bytes for people: `512 B`, `1.5 kB`, `20.0 MB`, `1.1 GB` (powers of 1000, as the Hub shows).
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_the_hub_shows_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1500), "1.5 kB");
        assert_eq!(human_bytes(20_000_000), "20.0 MB");
        assert_eq!(human_bytes(999_999_999), "1.0 GB");
        assert_eq!(count(1, "file"), "1 file");
        assert_eq!(count(2, "file"), "2 files");
    }
}
