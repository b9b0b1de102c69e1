//! What searches work out about a segment and reuse: a segment never changes once written,
//! so its popularity priors, its facet values, its sort bounds and the completions of a
//! prefix in it hold until a merge drops it.
//!
//! Reading a prior through tantivy's column costs tens of nanoseconds, and a relevance or
//! popularity scan reads one per visited match; a plain array costs one load. Completing a
//! short prefix walks up to thousands of dictionary terms; people type the same prefixes
//! again and again (every search starts with one).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tantivy::index::SegmentId;
use tantivy::schema::Field;
use tantivy::{DocId, Searcher, SegmentReader};

use crate::facets::FacetTable;
use crate::schema::names;
use crate::sorted::SortBounds;

/// A segment's popularity priors, by document: a plain array, cheap to share.
#[derive(Clone)]
pub(crate) struct Priors(Arc<[f32]>);

impl Priors {
    /// The prior of `doc` (1.0, the prior of a record without downloads or likes, for a
    /// document the segment does not have).
    pub(crate) fn of(&self, doc: DocId) -> f32 {
        self.0.get(doc as usize).copied().unwrap_or(1.0)
    }
}

/// Completions kept, over all segments and fields, before the cache starts again empty.
const MAX_COMPLETIONS: usize = 4_096;

/// Per-segment facts, dropped when their segment leaves the index.
#[derive(Default)]
pub(crate) struct SegmentCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The segments of the last searcher seen.
    segments: HashSet<SegmentId>,
    priors: HashMap<SegmentId, Priors>,
    facet_tables: HashMap<SegmentId, Arc<FacetTable>>,
    sort_bounds: HashMap<SegmentId, Arc<SortBounds>>,
    completions: HashMap<CompletionKey, Arc<[Vec<u8>]>>,
}

/// A prefix completed in one field of one segment.
type CompletionKey = (SegmentId, Field, String);

impl SegmentCache {
    fn state(&self) -> MutexGuard<'_, State> {
        // What the cache holds is rebuilt on demand: a panic elsewhere cannot corrupt it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets the segments `searcher` no longer has (merged or deleted).
    pub(crate) fn keep_only(&self, searcher: &Searcher) {
        let live: HashSet<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(SegmentReader::segment_id)
            .collect();
        let mut state = self.state();
        if state.segments == live {
            return;
        }
        state.priors.retain(|segment, _| live.contains(segment));
        state
            .facet_tables
            .retain(|segment, _| live.contains(segment));
        state
            .sort_bounds
            .retain(|segment, _| live.contains(segment));
        state
            .completions
            .retain(|(segment, _, _), _| live.contains(segment));
        state.segments = live;
    }

    /// Works out the priors, facet tables and sort bounds of every segment `searcher` has,
    /// and forgets the segments it no longer has: called after each reload, so the first
    /// search after a commit or a merge does not pay for them (milliseconds for a million
    /// documents).
    pub(crate) fn warm(&self, searcher: &Searcher) {
        self.keep_only(searcher);
        for reader in searcher.segment_readers() {
            let facets = self.facet_table(reader).map(drop);
            let bounds = self.sort_bounds(reader).map(drop);
            if let Err(e) = self.priors(reader).and(facets).and(bounds) {
                tracing::warn!(error = %e, "could not read a segment's priors, facets or sort bounds; searches read them later");
            }
        }
    }

    /// The segment's [`SortBounds`].
    pub(crate) fn sort_bounds(&self, reader: &SegmentReader) -> tantivy::Result<Arc<SortBounds>> {
        self.kept(reader, |state| &mut state.sort_bounds, SortBounds::read)
    }

    /// The facet values of the segment's documents.
    pub(crate) fn facet_table(&self, reader: &SegmentReader) -> tantivy::Result<Arc<FacetTable>> {
        self.kept(reader, |state| &mut state.facet_tables, FacetTable::read)
    }

    /// What `read` works out about the segment, kept in the map `kept_in` picks: the kept
    /// one, or read now (outside the lock) and kept.
    fn kept<T>(
        &self,
        reader: &SegmentReader,
        kept_in: fn(&mut State) -> &mut HashMap<SegmentId, Arc<T>>,
        read: fn(&SegmentReader) -> tantivy::Result<T>,
    ) -> tantivy::Result<Arc<T>> {
        let segment = reader.segment_id();
        if let Some(kept) = kept_in(&mut self.state()).get(&segment) {
            return Ok(Arc::clone(kept));
        }
        let value = Arc::new(read(reader)?);
        kept_in(&mut self.state()).insert(segment, Arc::clone(&value));
        Ok(value)
    }

    /// The popularity prior of each document of the segment.
    pub(crate) fn priors(&self, reader: &SegmentReader) -> tantivy::Result<Priors> {
        let segment = reader.segment_id();
        if let Some(priors) = self.state().priors.get(&segment) {
            return Ok(priors.clone());
        }
        let column = reader
            .fast_fields()
            .f64(names::PRIOR)?
            .first_or_default_col(1.0);
        let mut values = vec![0.0f64; reader.max_doc() as usize];
        column.get_range(0, &mut values);
        let priors = Priors(values.into_iter().map(|prior| prior as f32).collect());
        self.state().priors.insert(segment, priors.clone());
        Ok(priors)
    }

    /// The completions of `prefix` in `field` of the segment, worked out by `compute` the
    /// first time.
    pub(crate) fn completions(
        &self,
        reader: &SegmentReader,
        field: Field,
        prefix: &str,
        compute: impl FnOnce() -> tantivy::Result<Vec<Vec<u8>>>,
    ) -> tantivy::Result<Arc<[Vec<u8>]>> {
        let key = (reader.segment_id(), field, prefix.to_string());
        if let Some(terms) = self.state().completions.get(&key) {
            return Ok(Arc::clone(terms));
        }
        let terms: Arc<[Vec<u8>]> = compute()?.into();
        let mut state = self.state();
        if state.completions.len() >= MAX_COMPLETIONS {
            state.completions.clear();
        }
        state.completions.insert(key, Arc::clone(&terms));
        Ok(terms)
    }
}
