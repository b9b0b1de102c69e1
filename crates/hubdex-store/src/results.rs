//! Recent answers, reused while the index has not changed (Solr's query result cache).
//!
//! People search the same things again: a backspace while typing, going back from a
//! preview, a script polling a query, everyone's first keystrokes. An answer is the total,
//! the page's ids and the facets (records are read afresh, so a kept answer holds a few
//! kilobytes); it is valid for the index generation it was computed on. Pages of more than
//! [`MAX_PAGE`] are not kept.
//! Queries whose answer depends on more than the index are never kept: `followed:` and
//! `downloaded:` (the daemon's marks) and date windows (relative to now).

use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};

use hubdex_core::{Condition, Expr, Facets, Flag, Query, Sort};
use lru::LruCache;

/// The longest page kept: a screen or two of results.
const MAX_PAGE: usize = 100;
/// Answers kept; each is a few kilobytes at most (ids, facet counts).
const CAPACITY: NonZeroUsize = match NonZeroUsize::new(1_024) {
    Some(capacity) => capacity,
    None => NonZeroUsize::MIN,
};

/// One search's answer: the total, the page's ids, the facets when asked.
pub(crate) type Answer = (u64, Vec<String>, Option<Facets>);

/// The answers of recent searches on one index generation.
pub(crate) struct ResultCache {
    state: Mutex<State>,
}

struct State {
    generation: u64,
    answers: LruCache<String, Answer>,
}

impl Default for ResultCache {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                generation: 0,
                answers: LruCache::new(CAPACITY),
            }),
        }
    }
}

/// What a search asks, as a cache key; `None` when its answer cannot be kept.
pub(crate) fn key(
    query: &Query,
    sort: Sort,
    page: (usize, usize),
    facets: Option<usize>,
) -> Option<String> {
    if page.0 > MAX_PAGE || query.expr.as_ref().is_some_and(|expr| !keepable(expr)) {
        return None;
    }
    Some(format!("{:?}|{sort:?}|{page:?}|{facets:?}", query.expr))
}

/// True when the answer depends on the index alone.
fn keepable(expr: &Expr) -> bool {
    match expr {
        Expr::And(parts) | Expr::Or(parts) => parts.iter().all(keepable),
        Expr::Not(inner) => keepable(inner),
        Expr::Text(_) => true,
        Expr::Filter(filter) => !matches!(
            filter.condition,
            Condition::Time { .. }
                | Condition::Flag {
                    field: Flag::Followed | Flag::Downloaded,
                    ..
                }
        ),
    }
}

impl ResultCache {
    fn state(&self) -> MutexGuard<'_, State> {
        // Answers are recomputed on demand: a panic elsewhere cannot corrupt them.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer kept for `key` on index `generation`.
    pub(crate) fn get(&self, key: &str, generation: u64) -> Option<Answer> {
        let mut state = self.state();
        if state.generation != generation {
            return None;
        }
        state.answers.get(key).cloned()
    }

    /// Keeps an answer computed on index `generation`; answers of other generations go.
    pub(crate) fn put(&self, key: String, generation: u64, answer: Answer) {
        let mut state = self.state();
        if state.generation != generation {
            state.answers.clear();
            state.generation = generation;
        }
        state.answers.put(key, answer);
    }
}
