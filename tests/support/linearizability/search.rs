//! The search for a linearization of one key's operations: Wing & Gong's backtracking, with
//! Lowe's just-in-time linearization and a cache of configurations already explored (the
//! algorithm of Knossos's "linear" checker and of Porcupine).
//!
//! The operations' invocations and completions form one list of events in time order. From a
//! configuration (operations placed so far, register value), the candidates for the next place
//! are the operations invoked before the first completion still in the list: any operation
//! invoked later must follow the one that completes first. Placing an operation removes its two
//! events ("lifting", undone on backtrack). The history is linearizable when no completion is
//! left: every completed operation is placed, and Unknown ones may stay unplaced.
//!
//! Pruning, each sound (no linearization is lost):
//! - **Cache with dominance.** Configurations are keyed by (placed completed operations, value)
//!   and remember the sets of placed Unknown operations already explored. A configuration is
//!   skipped when an explored one has the same key and a subset of its Unknown operations: the
//!   subset can do everything the superset can, because Unknown operations constrain no one's
//!   real-time order and may also be left out.
//! - **Completed first.** At each configuration the completed candidates are tried before the
//!   Unknown ones, so the search prefers not to place operations that may never have happened.
//! - **Unknown reads are dropped:** they change nothing and observed nothing.
//! - **An Unknown writer whose value is observed and written by no one else** (and is not the
//!   initial absence) must precede every completed operation that observed it, so it is
//!   treated as completed at the earliest completion among those observers. This turns the
//!   commonest Unknown operation in fault tests (a timed-out write whose value later shows up)
//!   into an ordinary one.
//! - **An Unknown writer whose value nothing could observe** (no completed read of it, no
//!   compare-and-set expecting it) is dropped when the key has no failed compare-and-set:
//!   placing it could only make the value one that nobody reads before the next write.
//! - **Interchangeable Unknown operations are placed in invocation order.** Two Unknown
//!   operations with the same effect (the same step, where every value that no operation
//!   observes or expects counts as one) can swap places in any linearization, because neither
//!   has a deadline and the earlier one is available whenever the later one is. So only the
//!   earliest unplaced one of each kind is a candidate. Without this, every timed-out write of
//!   an unobserved value (kept because a failed compare-and-set might need the key to hold
//!   something else) multiplied the configurations by the subsets of such writes.
//!
//! Caveat: the number of configurations can grow exponentially with concurrency (and with
//! Unknown operations that the rules above cannot resolve), hence the caller's state limit.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use super::{Call, Operation, Outcome};

/// A value interned per key; index into [`Prepared::values`].
pub type ValueId = u32;

/// The initial value of every key: absent.
const ABSENT: ValueId = 0;

/// The effect of an operation on the register, with its observed result folded in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Step {
    Read(ValueId),
    Write(ValueId),
    /// A compare-and-set that succeeded, or whose outcome is unknown (if it failed it changed
    /// nothing, which is the same as leaving it unplaced).
    Cas {
        expected: ValueId,
        new: ValueId,
    },
    CasFailed {
        expected: ValueId,
    },
}

impl Step {
    /// The value after this step from `value`, or `None` if the step's result contradicts it.
    fn apply(self, value: ValueId) -> Option<ValueId> {
        match self {
            Step::Read(observed) => (value == observed).then_some(value),
            Step::Write(new) => Some(new),
            Step::Cas { expected, new } => (value == expected).then_some(new),
            Step::CasFailed { expected } => (value != expected).then_some(value),
        }
    }

    /// This step with each value that `observable` rejects replaced by one placeholder.
    fn with_unobservable_merged(self, observable: impl Fn(ValueId) -> bool) -> Step {
        let merge = |value| if observable(value) { value } else { ValueId::MAX };
        match self {
            Step::Read(_) | Step::CasFailed { .. } => self,
            Step::Write(new) => Step::Write(merge(new)),
            Step::Cas { expected, new } => Step::Cas { expected, new: merge(new) },
        }
    }

    fn written(self) -> Option<ValueId> {
        match self {
            Step::Write(new) | Step::Cas { new, .. } => Some(new),
            Step::Read(_) | Step::CasFailed { .. } => None,
        }
    }
}

/// An operation as the search sees it.
#[derive(Clone, Debug)]
struct Candidate {
    /// Index into the key's operations, for reporting.
    source: usize,
    step: Step,
    invoked_ns: u64,
    /// `None`: an Unknown outcome, placeable any time after invocation, or never.
    deadline_ns: Option<u64>,
    /// For an Unknown operation: the previous Unknown operation with the same effect, which
    /// must be placed before this one is (see the module doc).
    follows: Option<usize>,
}

/// One key's operations, translated for the search.
pub struct Prepared {
    candidates: Vec<Candidate>,
    values: Vec<Option<String>>,
}

impl Prepared {
    pub fn source_of(&self, candidate: usize) -> usize {
        self.candidates[candidate].source
    }

    pub fn value(&self, value: ValueId) -> &Option<String> {
        &self.values[value as usize]
    }
}

/// Translates one key's operations (sorted by invocation) into candidates.
pub fn prepare(operations: &[&Operation]) -> Prepared {
    let mut values = vec![None];
    let mut ids: HashMap<Option<String>, ValueId> = HashMap::from([(None, ABSENT)]);
    let mut intern = |value: Option<&String>| -> ValueId {
        let next = ValueId::try_from(values.len()).expect("fewer than 2^32 values per key");
        *ids.entry(value.cloned()).or_insert_with(|| {
            values.push(value.cloned());
            next
        })
    };
    let mut candidates = Vec::with_capacity(operations.len());
    for (source, operation) in operations.iter().enumerate() {
        let step = match (&operation.call, &operation.outcome) {
            (Call::Read, Outcome::Read(observed)) => Step::Read(intern(observed.as_ref())),
            (Call::Read, _) => continue,
            (Call::Write(value), _) => Step::Write(intern(Some(value))),
            (Call::Delete, _) => Step::Write(ABSENT),
            (Call::Cas { expected, .. }, Outcome::CasFailed) => {
                Step::CasFailed { expected: intern(expected.as_ref()) }
            }
            (Call::Cas { expected, new }, _) => {
                Step::Cas { expected: intern(expected.as_ref()), new: intern(Some(new)) }
            }
        };
        let (invoked_ns, deadline_ns) = (operation.invoked_ns, operation.completed_ns);
        candidates.push(Candidate { source, step, invoked_ns, deadline_ns, follows: None });
    }
    let mut candidates = resolve_unknown_writers(candidates);
    link_interchangeable(&mut candidates);
    Prepared { candidates, values }
}

/// Links each Unknown candidate to the previous one with the same effect.
fn link_interchangeable(candidates: &mut [Candidate]) {
    // Absence stays distinct from unobserved values: every key starts absent.
    let mut observable: HashSet<ValueId> = HashSet::from([ABSENT]);
    for candidate in candidates.iter() {
        match candidate.step {
            Step::Read(value)
            | Step::Cas { expected: value, .. }
            | Step::CasFailed { expected: value } => {
                observable.insert(value);
            }
            Step::Write(_) => {}
        }
    }
    let mut last_of_kind: HashMap<Step, usize> = HashMap::new();
    for (index, candidate) in candidates.iter_mut().enumerate() {
        if candidate.deadline_ns.is_none() {
            let kind = candidate.step.with_unobservable_merged(|value| observable.contains(&value));
            candidate.follows = last_of_kind.insert(kind, index);
        }
    }
}

/// Applies the two rules for Unknown writers described in the module doc.
fn resolve_unknown_writers(candidates: Vec<Candidate>) -> Vec<Candidate> {
    let mut writers: HashMap<ValueId, usize> = HashMap::new();
    // Values some operation could observe, and the earliest completion of a completed observer.
    let mut referenced: HashSet<ValueId> = HashSet::new();
    let mut observed_by_ns: HashMap<ValueId, u64> = HashMap::new();
    let mut has_failed_cas = false;
    for candidate in &candidates {
        let observed = match candidate.step {
            Step::Read(observed) | Step::Cas { expected: observed, .. } => Some(observed),
            Step::Write(_) => None,
            Step::CasFailed { .. } => {
                has_failed_cas = true;
                None
            }
        };
        if let Some(written) = candidate.step.written() {
            *writers.entry(written).or_default() += 1;
        }
        if let Some(observed) = observed {
            referenced.insert(observed);
            if let Some(completed_ns) = candidate.deadline_ns {
                let earliest = observed_by_ns.entry(observed).or_insert(completed_ns);
                *earliest = (*earliest).min(completed_ns);
            }
        }
    }
    let resolve = |mut candidate: Candidate| -> Option<Candidate> {
        if candidate.deadline_ns.is_some() {
            return Some(candidate);
        }
        let written = candidate.step.written().expect("Unknown reads were dropped");
        let sole_writer = written != ABSENT && writers[&written] == 1;
        if let (Some(&observed_ns), true) = (observed_by_ns.get(&written), sole_writer) {
            candidate.deadline_ns = Some(observed_ns);
            return Some(candidate);
        }
        (referenced.contains(&written) || has_failed_cas).then_some(candidate)
    };
    candidates.into_iter().filter_map(resolve).collect()
}

/// The search's answer for one key.
pub enum Verdict {
    Linearizable { states_explored: u64 },
    NotLinearizable { dead_end: DeadEnd },
    TooLarge { states_explored: u64 },
}

/// Where a failed search got furthest, for the report.
pub struct DeadEnd {
    /// The longest linearizable prefix found: candidates in order, each with the value after it.
    pub prefix: Vec<(usize, ValueId)>,
    pub value: ValueId,
    /// Candidates that were next in real time after that prefix, in order of invocation.
    pub next_candidates: Vec<usize>,
}

/// Searches for a linearization of `prepared`, exploring at most `states_max` configurations.
pub fn search(prepared: &Prepared, states_max: u64) -> Verdict {
    let mut search = Search::new(&prepared.candidates);
    let mut phase_unknown = false;
    let mut cursor = search.events.first();
    loop {
        if search.returns_remaining == 0 {
            return Verdict::Linearizable { states_explored: search.states_explored };
        }
        if search.states_explored > states_max {
            return Verdict::TooLarge { states_explored: search.states_explored };
        }
        match search.next_candidate(cursor, phase_unknown) {
            Some(node) => {
                cursor = if search.try_place(node) {
                    phase_unknown = false;
                    search.events.first()
                } else {
                    search.events.next[node]
                };
            }
            // Completed candidates are exhausted here; now try the Unknown ones.
            None if !phase_unknown => {
                phase_unknown = true;
                cursor = search.events.first();
            }
            None => {
                let Some(frame) = search.undo() else {
                    return Verdict::NotLinearizable { dead_end: search.dead_end() };
                };
                phase_unknown = search.candidates[frame.candidate].deadline_ns.is_none();
                cursor = search.events.next[frame.call_node];
            }
        }
    }
}

/// "No node": the end of the event list, or a call without a completion event.
const NONE: usize = usize::MAX;

/// The doubly linked list of events. Node 0 is the head sentinel.
struct Events {
    /// For each node: its candidate, and for a call its completion node (`NONE` if Unknown).
    candidate: Vec<usize>,
    is_call: Vec<bool>,
    completion: Vec<usize>,
    previous: Vec<usize>,
    next: Vec<usize>,
}

impl Events {
    fn new(candidates: &[Candidate]) -> Self {
        // Calls sort before completions at the same instant: touching intervals are concurrent.
        let mut timed: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * candidates.len());
        for (index, candidate) in candidates.iter().enumerate() {
            timed.push((candidate.invoked_ns, false, index));
            if let Some(deadline_ns) = candidate.deadline_ns {
                timed.push((deadline_ns, true, index));
            }
        }
        timed.sort_unstable();
        // A forced Unknown writer can complete (at its first observer's completion) before its
        // own call. The search then meets that completion first and backtracks, which is the
        // right verdict: the value was observed before anyone could have written it.
        let nodes = timed.len() + 1;
        let mut events = Events {
            candidate: vec![NONE; nodes],
            is_call: vec![false; nodes],
            completion: vec![NONE; nodes],
            previous: (0..nodes).map(|node| node.wrapping_sub(1)).collect(),
            next: (1..=nodes).map(|node| if node == nodes { NONE } else { node }).collect(),
        };
        let mut call_node = vec![NONE; candidates.len()];
        let mut completion_node = vec![NONE; candidates.len()];
        for (offset, &(_, is_completion, candidate)) in timed.iter().enumerate() {
            let node = offset + 1;
            events.candidate[node] = candidate;
            events.is_call[node] = !is_completion;
            if is_completion {
                completion_node[candidate] = node;
            } else {
                call_node[candidate] = node;
            }
        }
        for (call, completion) in call_node.into_iter().zip(completion_node) {
            events.completion[call] = completion;
        }
        events
    }

    fn first(&self) -> usize {
        self.next[0]
    }

    fn unlink(&mut self, node: usize) {
        let (previous, next) = (self.previous[node], self.next[node]);
        self.next[previous] = next;
        if next != NONE {
            self.previous[next] = previous;
        }
    }

    /// Undoes `unlink`; valid only in the reverse order of the unlinks.
    fn relink(&mut self, node: usize) {
        let (previous, next) = (self.previous[node], self.next[node]);
        self.next[previous] = node;
        if next != NONE {
            self.previous[next] = node;
        }
    }

    fn lift(&mut self, call_node: usize) {
        self.unlink(call_node);
        if self.completion[call_node] != NONE {
            self.unlink(self.completion[call_node]);
        }
    }

    fn unlift(&mut self, call_node: usize) {
        if self.completion[call_node] != NONE {
            self.relink(self.completion[call_node]);
        }
        self.relink(call_node);
    }
}

/// A placed operation, with what is needed to take it back.
#[derive(Clone, Copy)]
struct Frame {
    call_node: usize,
    candidate: usize,
    value_before: ValueId,
    value_after: ValueId,
}

/// Whether a candidate is counted in the completed or the Unknown bitset, and where.
#[derive(Clone, Copy)]
enum Slot {
    Completed(usize),
    Unknown(usize),
}

struct Search<'a> {
    candidates: &'a [Candidate],
    events: Events,
    slots: Vec<Slot>,
    placed_completed: Vec<u64>,
    placed_unknown: Vec<u64>,
    value: ValueId,
    stack: Vec<Frame>,
    cache: Cache,
    completed_total: usize,
    returns_remaining: usize,
    states_explored: u64,
    best: BestPrefix,
}

/// The deepest prefix seen (by completed operations placed). `stack[..shared]` still equals
/// the search's stack, so a new best copies only the frames pushed since: linear overall.
#[derive(Default)]
struct BestPrefix {
    stack: Vec<Frame>,
    shared: usize,
    completed_placed: usize,
}

impl<'a> Search<'a> {
    fn new(candidates: &'a [Candidate]) -> Self {
        let (mut completed, mut unknown) = (0, 0);
        let slots: Vec<Slot> = candidates
            .iter()
            .map(|candidate| {
                let (count, slot): (&mut usize, fn(usize) -> Slot) = match candidate.deadline_ns {
                    Some(_) => (&mut completed, Slot::Completed),
                    None => (&mut unknown, Slot::Unknown),
                };
                *count += 1;
                slot(*count - 1)
            })
            .collect();
        Search {
            candidates,
            events: Events::new(candidates),
            slots,
            placed_completed: vec![0; completed.div_ceil(64)],
            placed_unknown: vec![0; unknown.div_ceil(64)],
            value: ABSENT,
            stack: Vec::new(),
            cache: Cache::default(),
            completed_total: completed,
            returns_remaining: completed,
            states_explored: 0,
            best: BestPrefix::default(),
        }
    }

    /// The first call at or after `node`, before the first completion, of the phase's kind.
    fn next_candidate(&self, mut node: usize, phase_unknown: bool) -> Option<usize> {
        while node != NONE && self.events.is_call[node] {
            let candidate = self.events.candidate[node];
            if self.candidates[candidate].deadline_ns.is_none() == phase_unknown {
                return Some(node);
            }
            node = self.events.next[node];
        }
        None
    }

    /// Places the candidate called at `node` if its result fits the value and the resulting
    /// configuration is new.
    fn try_place(&mut self, node: usize) -> bool {
        let candidate = self.events.candidate[node];
        if let Some(earlier) = self.candidates[candidate].follows {
            if !self.is_placed(earlier) {
                return false;
            }
        }
        let Some(value_after) = self.candidates[candidate].step.apply(self.value) else {
            return false;
        };
        self.flip(candidate);
        if !self.cache.insert_if_new(&self.placed_completed, &self.placed_unknown, value_after) {
            self.flip(candidate);
            return false;
        }
        self.stack.push(Frame {
            call_node: node,
            candidate,
            value_before: self.value,
            value_after,
        });
        self.value = value_after;
        self.events.lift(node);
        if let Slot::Completed(_) = self.slots[candidate] {
            self.returns_remaining -= 1;
        }
        self.states_explored += 1;
        self.note_progress();
        true
    }

    /// Takes back the last placed operation, if any.
    fn undo(&mut self) -> Option<Frame> {
        let frame = self.stack.pop()?;
        self.events.unlift(frame.call_node);
        self.flip(frame.candidate);
        self.value = frame.value_before;
        if let Slot::Completed(_) = self.slots[frame.candidate] {
            self.returns_remaining += 1;
        }
        self.best.shared = self.best.shared.min(self.stack.len());
        Some(frame)
    }

    fn is_placed(&self, candidate: usize) -> bool {
        let (bits, index) = match self.slots[candidate] {
            Slot::Completed(index) => (&self.placed_completed, index),
            Slot::Unknown(index) => (&self.placed_unknown, index),
        };
        bits[index / 64] & (1 << (index % 64)) != 0
    }

    fn flip(&mut self, candidate: usize) {
        let (bits, index) = match self.slots[candidate] {
            Slot::Completed(index) => (&mut self.placed_completed, index),
            Slot::Unknown(index) => (&mut self.placed_unknown, index),
        };
        bits[index / 64] ^= 1 << (index % 64);
    }

    fn note_progress(&mut self) {
        let completed_placed = self.completed_total - self.returns_remaining;
        if completed_placed <= self.best.completed_placed {
            return;
        }
        let best = &mut self.best;
        best.stack.truncate(best.shared);
        best.stack.extend_from_slice(&self.stack[best.shared..]);
        best.shared = self.stack.len();
        best.completed_placed = completed_placed;
    }

    fn dead_end(&self) -> DeadEnd {
        let prefix: Vec<(usize, ValueId)> =
            self.best.stack.iter().map(|frame| (frame.candidate, frame.value_after)).collect();
        let value = prefix.last().map_or(ABSENT, |&(_, value)| value);
        let mut placed = vec![false; self.candidates.len()];
        for &(candidate, _) in &prefix {
            placed[candidate] = true;
        }
        let unplaced = || (0..self.candidates.len()).filter(|&candidate| !placed[candidate]);
        let first_deadline_ns = unplaced()
            .filter_map(|candidate| self.candidates[candidate].deadline_ns)
            .min()
            .unwrap_or(u64::MAX);
        let next_candidates = unplaced()
            .filter(|&candidate| {
                let candidate = &self.candidates[candidate];
                candidate.invoked_ns <= first_deadline_ns
                    || candidate.deadline_ns == Some(first_deadline_ns)
            })
            .take(NEXT_CANDIDATES_SHOWN)
            .collect();
        DeadEnd { prefix, value, next_candidates }
    }
}

/// How many next candidates a dead end lists.
const NEXT_CANDIDATES_SHOWN: usize = 20;

/// Explored configurations: for each (placed completed operations, value), the sets of placed
/// Unknown operations explored with it, none a subset of another.
#[derive(Default)]
struct Cache {
    explored: HashMap<CacheKey, Vec<Box<[u64]>>, BuildHasherDefault<WordHasher>>,
}

/// A multiply-rotate hasher (the idea of rustc's FxHash) for cache keys: the keys are
/// bitsets built by the search, not input an adversary chooses, and SipHash's cost dominated
/// the time per state in debug builds.
#[derive(Default)]
struct WordHasher {
    hash: u64,
}

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.hash
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }

    fn write_u32(&mut self, word: u32) {
        self.write_u64(u64::from(word));
    }
}

/// The placed completed operations, compressed: operations are numbered in invocation order
/// and placed roughly in that order, so the bitset is a run of full words, a few mixed words,
/// then zero words. Only the mixed words are stored.
#[derive(Hash, PartialEq, Eq)]
struct CacheKey {
    full_words: usize,
    mixed_words: Box<[u64]>,
    value: ValueId,
}

impl Cache {
    /// Records the configuration; false if it, or one that dominates it, was explored.
    fn insert_if_new(&mut self, completed: &[u64], unknown: &[u64], value: ValueId) -> bool {
        let full_words = completed.iter().take_while(|&&word| word == u64::MAX).count();
        let zero_words = completed[full_words..].iter().rev().take_while(|&&w| w == 0).count();
        let mixed_words = completed[full_words..completed.len() - zero_words].into();
        let explored =
            self.explored.entry(CacheKey { full_words, mixed_words, value }).or_default();
        if explored.iter().any(|seen| is_subset(seen, unknown)) {
            return false;
        }
        explored.retain(|seen| !is_subset(unknown, seen));
        explored.push(unknown.into());
        true
    }
}

fn is_subset(small: &[u64], large: &[u64]) -> bool {
    small.iter().zip(large).all(|(small, large)| small & !large == 0)
}
