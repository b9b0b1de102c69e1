//! The catalog changing over time the way the Hub's does: datasets created, updated (a new
//! commit), deleted and renamed. Which records change, and how, is decided by a ChaCha stream
//! seeded from the catalog's seed and the batch number, so the same seed and the same
//! sequence of batches give the same changes; only the timestamps come from the clock.

use std::collections::HashSet;

use hubdex_core::DatasetId;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::catalog::{Builder, Catalog, Editor, Record, derive_object_id, derive_sha, format_time};
use crate::synthetic;

/// How many datasets one mutation batch creates, updates, deletes and renames.
///
/// Sent as the query of `POST /_fakehub/mutate?created=&updated=&deleted=&moved=` or given to
/// [`crate::RunningFakeHub::mutate`]; a missing count is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mutation {
    /// New datasets, generated like the synthetic catalog's, created now.
    #[serde(default)]
    pub created: usize,
    /// Datasets that get a new commit now: new `sha` and `lastModified`, a few more downloads.
    #[serde(default)]
    pub updated: usize,
    /// Datasets deleted now.
    #[serde(default)]
    pub deleted: usize,
    /// Datasets renamed within their namespace (same `_id`, `createdAt` and `lastModified`).
    #[serde(default)]
    pub moved: usize,
}

impl Mutation {
    /// Parses `created=10,updated=50,deleted=2,moved=0` (any subset, any order), the form of
    /// the `--mutate-batch` option.
    pub fn parse(text: &str) -> Result<Mutation, String> {
        let mut m = Mutation::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("expected KEY=COUNT, got `{part}`"))?;
            let count: usize = value
                .trim()
                .parse()
                .map_err(|_| format!("`{value}` is not a whole number in `{part}`"))?;
            match key.trim() {
                "created" => m.created = count,
                "updated" => m.updated = count,
                "deleted" => m.deleted = count,
                "moved" => m.moved = count,
                other => {
                    return Err(format!(
                        "unknown change `{other}`; use created, updated, deleted and moved"
                    ));
                }
            }
        }
        Ok(m)
    }

    /// True when the batch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.created + self.updated + self.deleted + self.moved == 0
    }
}

/// A dataset renamed by a mutation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    /// The old id.
    pub from: String,
    /// The new id.
    pub to: String,
}

/// What a mutation batch did: the ids it touched, so a test knows what to look for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MutationReport {
    /// The batch's number, from 1.
    pub batch: u64,
    /// The time of the changes (the first one; later ones follow by a millisecond each).
    pub at: String,
    /// Ids of the new datasets.
    pub created: Vec<String>,
    /// Ids of the updated datasets.
    pub updated: Vec<String>,
    /// Ids of the deleted datasets.
    pub deleted: Vec<String>,
    /// The renamed datasets.
    pub moved: Vec<Moved>,
    /// Datasets in the catalog afterwards.
    pub records: usize,
}

/// One change, with what a webhook payload says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub kind: ChangeKind,
    /// The dataset's id (its old id for a rename).
    pub name: String,
    pub object_id: [u8; 12],
    /// The head commit after the change (before it, for a deletion).
    pub sha: [u8; 20],
    /// The head commit before an update.
    pub old_sha: Option<[u8; 20]>,
    /// The owner's name, if the id has one.
    pub owner: Option<String>,
    /// The new id of a renamed dataset.
    pub moved_to: Option<String>,
}

/// The kinds of [`Change`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    Create,
    Update,
    Delete,
    Move,
}

/// The state that makes successive batches deterministic.
#[derive(Debug, Clone)]
pub(crate) struct Mutator {
    seed: u64,
    batches: u64,
    /// The synthetic record number the next created dataset gets.
    next_synthetic: u64,
    /// The latest change time handed out, so times only ever increase.
    last_time: i64,
}

/// Keeps batch streams apart from the generator's record streams.
const BATCH_STREAM: u64 = 0x6d75_7461_7465_2121;

impl Mutator {
    /// A mutator for a catalog of `records` records generated (or loaded) with `seed`.
    pub fn new(seed: u64, records: usize) -> Mutator {
        Mutator {
            seed,
            batches: 0,
            next_synthetic: records as u64,
            last_time: i64::MIN,
        }
    }

    /// Applies one batch to `catalog` at wall-clock time `now_ms`, returning the next
    /// version, the report and the changes in order. Change times are never earlier than any
    /// time already in the catalog, so a `lastModified` walk always sees them first.
    pub fn apply(
        &mut self,
        catalog: &Catalog,
        batch: Mutation,
        now_ms: i64,
    ) -> (Catalog, MutationReport, Vec<Change>) {
        self.batches += 1;
        let mut rng =
            ChaCha8Rng::seed_from_u64(synthetic::mix(self.seed ^ BATCH_STREAM, self.batches));
        let mut editor = catalog.edit();
        let start = now_ms
            .max(editor.max_last_modified().saturating_add(1))
            .max(self.last_time.saturating_add(1));
        let mut clock = start;
        let mut tick = || {
            let t = clock;
            clock += 1;
            t
        };
        let mut report = MutationReport {
            batch: self.batches,
            at: format_time(start),
            ..MutationReport::default()
        };
        let mut changes = Vec::new();
        let mut picked = HashSet::new();
        // Only records from before this batch are picked: a new version is never changed
        // again in the same batch.
        let before = editor.stored() as u32;

        for index in pick(&editor, before, &mut rng, batch.deleted, &mut picked) {
            let r = editor.record(index);
            changes.push(change(&editor, r, ChangeKind::Delete, None, None));
            report.deleted.push(r.id.to_string());
            editor.retire(index);
        }
        for index in pick(&editor, before, &mut rng, batch.updated, &mut picked) {
            let t = tick();
            let mut r = editor.record(index).clone();
            let old_sha = r.sha;
            r.last_modified = t;
            r.sha = derive_sha(r.id.as_str(), t);
            r.downloads += rng.random_range(0..=r.downloads / 20 + 3);
            if rng.random_bool(0.3) {
                r.likes += 1;
            }
            changes.push(change(&editor, &r, ChangeKind::Update, Some(old_sha), None));
            report.updated.push(r.id.to_string());
            editor.retire(index);
            editor.push(r);
        }
        for index in pick(&editor, before, &mut rng, batch.moved, &mut picked) {
            let mut r = editor.record(index).clone();
            let Some(new_id) = renamed(&editor, &r.id) else {
                continue;
            };
            changes.push(change(
                &editor,
                &r,
                ChangeKind::Move,
                None,
                Some(new_id.to_string()),
            ));
            report.moved.push(Moved {
                from: r.id.to_string(),
                to: new_id.to_string(),
            });
            r.id = new_id;
            editor.retire(index);
            editor.push(r);
        }
        if batch.created > 0 {
            let names = std::mem::take(editor.names_mut());
            let mut builder = Builder::with_names(names);
            let mut claimed = HashSet::new();
            let records = synthetic::generate_more(
                self.next_synthetic,
                batch.created,
                self.seed,
                &mut builder,
                |key| !editor.key_taken(key) && claimed.insert(key),
            );
            self.next_synthetic += batch.created as u64;
            let (_, names) = builder.into_parts();
            *editor.names_mut() = names;
            for mut r in records {
                let t = tick();
                r.created_at = t;
                r.last_modified = t;
                r.object_id = derive_object_id(r.id.as_str(), t);
                r.sha = derive_sha(r.id.as_str(), t);
                r.downloads = 0;
                r.likes = 0;
                r.trending_score = 0.0;
                changes.push(change(&editor, &r, ChangeKind::Create, None, None));
                report.created.push(r.id.to_string());
                editor.push(r);
            }
        }
        self.last_time = clock.saturating_sub(1).max(start);
        let next = editor.finish();
        report.records = next.len();
        (next, report, changes)
    }
}

/// Up to `count` distinct live, public records below index `stored`, chosen at random and
/// not `picked` before.
fn pick(
    editor: &Editor<'_>,
    stored: u32,
    rng: &mut ChaCha8Rng,
    count: usize,
    picked: &mut HashSet<u32>,
) -> Vec<u32> {
    let mut out = Vec::with_capacity(count);
    if stored == 0 {
        return out;
    }
    // Random probes find live records quickly unless nearly all are gone; the budget bounds
    // the loop either way.
    let mut budget = count.saturating_mul(64).max(1024);
    while out.len() < count && budget > 0 {
        budget -= 1;
        let index = rng.random_range(0..stored);
        if editor.is_alive(index) && !editor.record(index).private && picked.insert(index) {
            out.push(index);
        }
    }
    out
}

/// A free new id in the same namespace: the name with `-renamed` (and a number if needed).
fn renamed(editor: &Editor<'_>, id: &DatasetId) -> Option<DatasetId> {
    let base = format!("{id}-renamed");
    std::iter::once(base.clone())
        .chain((2..100).map(|k| format!("{base}-{k}")))
        .filter_map(|candidate| DatasetId::new(candidate).ok())
        .find(|candidate| !editor.id_taken(candidate.as_str()))
}

fn change(
    editor: &Editor<'_>,
    r: &Record,
    kind: ChangeKind,
    old_sha: Option<[u8; 20]>,
    moved_to: Option<String>,
) -> Change {
    Change {
        kind,
        name: r.id.to_string(),
        object_id: r.object_id,
        sha: r.sha,
        old_sha,
        owner: r.author.map(|a| editor.names().author_name(a).to_string()),
        moved_to,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Sort;

    fn ids(catalog: &Catalog, sort: Sort) -> Vec<String> {
        let filter = catalog.filter(&[], &[], &[], None);
        let (page, _) = catalog.page(sort, None, usize::MAX, &filter);
        page.iter()
            .map(|&i| catalog.record(i).id.to_string())
            .collect()
    }

    #[test]
    fn a_batch_creates_updates_deletes_and_renames() {
        let catalog = synthetic::generate(2_000, 3).finish();
        let mut mutator = Mutator::new(3, catalog.len());
        let batch = Mutation {
            created: 5,
            updated: 7,
            deleted: 4,
            moved: 2,
        };
        let (next, report, changes) = mutator.apply(&catalog, batch, 0);
        assert_eq!(report.records, 2_000 + 5 - 4);
        assert_eq!(next.len(), report.records);
        assert_eq!(changes.len(), 5 + 7 + 4 + 2);
        for id in &report.deleted {
            assert!(next.find(id).is_none(), "{id} is gone");
            assert!(catalog.find(id).is_some(), "the old version still has {id}");
        }
        for moved in &report.moved {
            assert!(next.find(&moved.from).is_none());
            let new = next.record(next.find(&moved.to).expect("the new name"));
            let old = catalog.record(catalog.find(&moved.from).expect("the old name"));
            assert_eq!(new.object_id, old.object_id);
            assert_eq!(new.last_modified, old.last_modified);
        }
        // Changes come first when sorted by time, and every order lists each record once.
        let newest = ids(&next, Sort::LastModified);
        let fresh: HashSet<&String> = report.created.iter().chain(&report.updated).collect();
        assert!(newest[..fresh.len()].iter().all(|id| fresh.contains(id)));
        let created = ids(&next, Sort::CreatedAt);
        let mut expected: Vec<&String> = report.created.iter().collect();
        expected.reverse();
        assert_eq!(created[..5].iter().collect::<Vec<_>>(), expected);
        for sort in Sort::ALL {
            let listed = ids(&next, sort);
            assert_eq!(listed.len(), next.len(), "{sort:?}");
            let unique: HashSet<&String> = listed.iter().collect();
            assert_eq!(unique.len(), listed.len(), "{sort:?}");
        }
        let updated = next.record(next.find(&report.updated[0]).unwrap());
        let filter = catalog.filter(&[], &[], &[], None);
        let (all, _) = catalog.page(Sort::Default, None, usize::MAX, &filter);
        assert!(
            all.iter()
                .all(|&i| catalog.record(i).last_modified < updated.last_modified)
        );
    }

    #[test]
    fn the_same_seed_and_batches_make_the_same_changes() {
        let run = || {
            let mut catalog = synthetic::generate(500, 9).finish();
            let mut mutator = Mutator::new(9, catalog.len());
            let mut reports = Vec::new();
            for _ in 0..3 {
                let batch = Mutation::parse("created=3,updated=3,deleted=2,moved=1").unwrap();
                let (next, mut report, _) = mutator.apply(&catalog, batch, 0);
                report.at.clear();
                reports.push(report);
                catalog = next;
            }
            reports
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn batch_text_is_checked() {
        assert_eq!(
            Mutation::parse("updated=2, created=1").unwrap(),
            Mutation {
                created: 1,
                updated: 2,
                ..Mutation::default()
            }
        );
        assert!(
            Mutation::parse("changed=1")
                .unwrap_err()
                .contains("changed")
        );
        assert!(Mutation::parse("created=many").is_err());
        assert!(Mutation::parse("").unwrap().is_empty());
    }
}
