//! The best few of many: what every top-k scan of the index keeps as it goes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The `keep` greatest items offered: a heap whose top is the worst kept, so a newcomer is
/// compared with one item.
pub(crate) struct Best<T: Ord> {
    keep: usize,
    heap: BinaryHeap<Reverse<T>>,
}

impl<T: Ord> Best<T> {
    pub(crate) fn new(keep: usize) -> Self {
        Self {
            keep,
            heap: BinaryHeap::with_capacity(keep + 1),
        }
    }

    /// The worst kept, once `keep` are kept: what a newcomer must beat to get in.
    pub(crate) fn worst(&self) -> Option<&T> {
        (self.heap.len() >= self.keep)
            .then(|| self.heap.peek().map(|Reverse(worst)| worst))
            .flatten()
    }

    pub(crate) fn offer(&mut self, item: T) {
        if self.heap.len() < self.keep {
            self.heap.push(Reverse(item));
        } else if self.heap.peek().is_some_and(|Reverse(worst)| item > *worst) {
            self.heap.pop();
            self.heap.push(Reverse(item));
        }
    }

    /// What is kept, in no particular order.
    pub(crate) fn into_unordered(self) -> impl Iterator<Item = T> {
        self.heap.into_iter().map(|Reverse(item)| item)
    }
}
