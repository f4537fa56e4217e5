//! What the fuzz targets share: how many cases to run, the fixed
//! seed, the seed corpus, the mutations, and the runner that turns a panic,
//! a broken property or a case that takes too long into a test failure
//! naming the smallest input found.
//!
//! Each parser's module keeps its targets in a `#[cfg(test)] mod fuzz`,
//! named `fuzz_<target>` so that `cargo test -p <crate> --lib fuzz` runs
//! them all. A target first runs every file of `fuzz-corpus/<target>/`
//! (next to the crate's Cargo.toml) as it is, then [`cases`] inputs made
//! from those seeds by [`mutations`] or from nothing. The generator is
//! seeded from the target's name, so a run is the same every time and CI
//! finds what a developer finds. `ZAPWASM_FUZZ_CASES` sets the number of
//! cases, `ZAPWASM_FUZZ_SEED` (a number) picks another seed for a longer
//! run by hand (ARCHITECTURE.md, "Fuzzing").
//!
//! Failures are not persisted: a finding becomes a plain `#[test]` with the
//! input the failure printed.
//!
//! zapwasm-fuzzing: what the fuzz targets of zapwasm-rules, zapwasm-host
//! and zapwasm-cli share, as a dev-dependency of each (a crate's tests
//! cannot use another crate's test code).

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::strategy::{BoxedStrategy, Just};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// Generated cases per target when `ZAPWASM_FUZZ_CASES` is not set: every
/// target of a crate together takes a few seconds in a debug build.
pub const DEFAULT_CASES: u32 = 2048;

/// The longest input the mutations make. Parsers of untrusted text must
/// stay about linear up to here.
pub const MAX_INPUT: usize = 64 * 1024;

/// A case taking longer than this fails: a parser that is quadratic (or
/// worse) on some input shows here long before it hangs a host.
const SLOW_CASE: Duration = Duration::from_secs(2);

/// A case still running after this is taken as hung: the process is
/// aborted with the input printed, since a thread in an endless loop
/// cannot be stopped.
const HUNG_CASE: Duration = Duration::from_secs(60);

/// Text that parsers of this project treat specially, inserted by the
/// mutations: delimiters, quotes and escapes, percent escapes, numbers at
/// the edges, nesting, and bytes that are not UTF-8.
const TOKENS: &[&[u8]] = &[
    b"{{",
    b"}}",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b"'",
    b"\\",
    b"\\\"",
    b"%",
    b"%2",
    b"%ZZ",
    b"%00",
    b"%C3%A9",
    b"%FF",
    b"=",
    b"==",
    b",",
    b";",
    b":",
    b"::",
    b"&",
    b"+",
    b"#",
    b" #",
    b"?",
    b"/",
    b"//",
    b"@",
    b"*",
    b"*.",
    b".",
    b"..",
    b"-",
    b"_",
    b" ",
    b"\t",
    b"\n",
    b"\r\n",
    b"\r",
    b"\0",
    b"\x7f",
    b"\xc3\xa9",
    b"\xe2\x80\xa8",
    b"\xef\xbb\xbf",
    b"\xf0\x9f\x98\x80",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"0",
    b"-1",
    b"1e999",
    b"-0.0",
    b"18446744073709551616",
    b"9223372036854775808",
    b"null",
    b"true",
    b"[]",
    b"{}",
    b"{\"a\":",
    b"\"\":",
    b"[[[[",
    b"]]]]",
];

/// Generated cases per target: `ZAPWASM_FUZZ_CASES`, else [`DEFAULT_CASES`].
pub fn cases() -> u32 {
    match std::env::var("ZAPWASM_FUZZ_CASES") {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| panic!("ZAPWASM_FUZZ_CASES={text:?} is not a number")),
        Err(_) => DEFAULT_CASES,
    }
}

/// The generator of `target`: the same every run (FNV-1a of the target's
/// name and `ZAPWASM_FUZZ_SEED`, spread over ChaCha's 32-byte seed), so
/// targets do not all draw the same inputs.
fn rng(target: &str) -> TestRng {
    let extra: u64 = match std::env::var("ZAPWASM_FUZZ_SEED") {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| panic!("ZAPWASM_FUZZ_SEED={text:?} is not a number")),
        Err(_) => 0,
    };
    let mut state = 0xcbf2_9ce4_8422_2325_u64;
    for byte in target.bytes().chain(extra.to_le_bytes()) {
        state = (state ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut seed = [0u8; 32];
    for chunk in seed.chunks_mut(8) {
        // splitmix64: each word of the seed differs even for close states.
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut word = state;
        word = (word ^ (word >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        word = (word ^ (word >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        chunk.copy_from_slice(&(word ^ (word >> 31)).to_le_bytes());
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &seed)
}

/// The seed corpus of `target`: every file in `fuzz-corpus/<target>/`, in
/// name order. A target without seeds is a mistake, so none fails.
pub fn corpus(target: &str) -> Vec<Input> {
    // Cargo runs a crate's tests with its manifest directory in the
    // environment: the corpus is the tested crate's, not this one's.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for tests");
    let dir = Path::new(&manifest).join("fuzz-corpus").join(target);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the seed corpus {}: {e}", dir.display()))
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    paths.retain(|path| path.is_file());
    paths.sort();
    assert!(!paths.is_empty(), "the seed corpus {} is empty", dir.display());
    paths
        .iter()
        .map(|path| Input(std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))))
        .collect()
}

/// Bytes a target parses. Printed as a byte string literal, so a failing
/// input can be pasted into a regression test as it is.
#[derive(Clone, PartialEq, Eq)]
pub struct Input(pub Vec<u8>);

impl Input {
    /// The bytes as text, invalid UTF-8 replaced (what a parser of `&str`
    /// gets from bytes off the wire or a file).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

/// One change to an input; positions are fractions of the input's length
/// at the time, so a mutation applies to any input.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Flip one bit of one byte.
    Flip(Index, u8),
    /// Insert a token, repeated: once, a few times, or thousands of times
    /// (long runs, deep nesting).
    Insert(Index, Input, u16),
    /// Remove up to this many bytes.
    Delete(Index, u8),
    /// Copy up to this many bytes from the first place to the second
    /// (repeats a field, a quote, a key).
    Copy(Index, Index, u16),
    /// Cut the input here.
    Truncate(Index),
}

impl Mutation {
    fn apply(&self, bytes: &mut Vec<u8>) {
        let at = |index: &Index, len: usize| index.index(len + 1);
        match self {
            Mutation::Flip(index, bit) if !bytes.is_empty() => {
                let i = index.index(bytes.len());
                bytes[i] ^= 1 << (bit % 8);
            }
            Mutation::Flip(..) => {}
            Mutation::Insert(index, token, times) => {
                let room = MAX_INPUT.saturating_sub(bytes.len());
                let run: Vec<u8> =
                    token.0.iter().copied().cycle().take((token.0.len() * usize::from(*times)).min(room)).collect();
                let i = at(index, bytes.len());
                bytes.splice(i..i, run);
            }
            Mutation::Delete(index, len) => {
                let i = at(index, bytes.len());
                let end = (i + usize::from(*len)).min(bytes.len());
                bytes.drain(i..end);
            }
            Mutation::Copy(from, to, len) if !bytes.is_empty() => {
                let start = from.index(bytes.len());
                let end = (start + usize::from(*len)).min(bytes.len());
                let end = end.min(start + MAX_INPUT.saturating_sub(bytes.len()));
                let chunk = bytes[start..end].to_vec();
                let i = at(to, bytes.len());
                bytes.splice(i..i, chunk);
            }
            Mutation::Copy(..) => {}
            Mutation::Truncate(index) => {
                let i = at(index, bytes.len());
                bytes.truncate(i);
            }
        }
    }
}

/// Mutations inserting [`TOKENS`] and the target's own `tokens` (its
/// keywords: `realm=`, `authData_`, `$func`, ...).
pub fn mutations(tokens: &[&str]) -> impl Strategy<Value = Mutation> + use<> {
    let mut all: Vec<Input> = TOKENS.iter().map(|token| Input(token.to_vec())).collect();
    all.extend(tokens.iter().map(|token| Input(token.as_bytes().to_vec())));
    let times = prop_oneof![12 => Just(1u16), 4 => 2u16..16, 1 => 16u16..8192];
    prop_oneof![
        2 => (any::<Index>(), any::<u8>()).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        4 => (any::<Index>(), select(all), times).prop_map(|(at, token, times)| Mutation::Insert(at, token, times)),
        2 => (any::<Index>(), 1u8..32).prop_map(|(at, len)| Mutation::Delete(at, len)),
        1 => (any::<Index>(), any::<Index>(), 1u16..512).prop_map(|(from, to, len)| Mutation::Copy(from, to, len)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

/// Inputs for a parser: mostly seeds with a few mutations, some made of
/// tokens only, some arbitrary bytes or characters.
pub fn inputs(seeds: &[Input], tokens: &[&str]) -> BoxedStrategy<Input> {
    let mut all: Vec<Input> = TOKENS.iter().map(|token| Input(token.to_vec())).collect();
    all.extend(tokens.iter().map(|token| Input(token.as_bytes().to_vec())));
    let mutated =
        (select(seeds.to_vec()), proptest::collection::vec(mutations(tokens), 1..8)).prop_map(|(seed, mutations)| {
            let mut bytes = seed.0;
            for mutation in &mutations {
                mutation.apply(&mut bytes);
            }
            Input(bytes)
        });
    let soup = proptest::collection::vec(select(all), 0..48)
        .prop_map(|tokens| Input(tokens.into_iter().flat_map(|token| token.0).collect()));
    let bytes = proptest::collection::vec(any::<u8>(), 0..512).prop_map(Input);
    let chars = proptest::collection::vec(any::<char>(), 0..256)
        .prop_map(|chars| Input(chars.into_iter().collect::<String>().into_bytes()));
    prop_oneof![12 => mutated, 3 => soup, 1 => bytes, 1 => chars].boxed()
}

/// Runs `check` on every seed of `target`, then on [`cases`] inputs made by
/// [`inputs`]. `check` returns an error (`prop_assert!`) for a broken
/// property; a panic, or a case over the time bound, fails the same way.
pub fn fuzz(target: &str, tokens: &[&str], check: impl Fn(&Input) -> Result<(), TestCaseError>) {
    let seeds = corpus(target);
    let strategy = inputs(&seeds, tokens);
    run(target, seeds, strategy, check);
}

/// [`fuzz`] for a parser of text: the input's bytes as UTF-8, invalid
/// sequences replaced.
pub fn fuzz_text(target: &str, tokens: &[&str], check: impl Fn(&str) -> Result<(), TestCaseError>) {
    fuzz(target, tokens, |input| check(&input.text()));
}

/// The runner under [`fuzz`], for targets with inputs of their own shape:
/// runs `check` on each of `seeds`, then on [`cases`] values of `strategy`,
/// with a fixed seed, the time bound and the hang watchdog. Panics with
/// the smallest failing input when a case fails.
pub fn run<T, S>(target: &str, seeds: Vec<T>, strategy: S, check: impl Fn(&T) -> Result<(), TestCaseError>)
where
    T: Clone + fmt::Debug + Send + 'static,
    S: Strategy<Value = T>,
{
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        // Shrinking reruns the failing case; bound it when every run is slow.
        max_shrink_time: 60_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, rng(target));
    let watchdog = Watchdog::start(target);
    let ran = AtomicU64::new(0);
    let started = Instant::now();
    let guarded = |value: T| -> Result<(), TestCaseError> {
        ran.fetch_add(1, Ordering::Relaxed);
        let case_started = Instant::now();
        let result = {
            // Left on drop, so a case that panics is not taken as hung.
            let _watched = watchdog.watch(&value);
            check(&value)
        };
        let took = case_started.elapsed();
        result?;
        if took > SLOW_CASE {
            return Err(TestCaseError::fail(format!("took {took:.2?}, more than {SLOW_CASE:?}")));
        }
        Ok(())
    };
    for (i, seed) in seeds.into_iter().enumerate() {
        let tree = Just(seed).new_tree(&mut runner).unwrap_or_else(|e| panic!("{target}: {e}"));
        if let Err(error) = runner.run_one(tree, guarded) {
            panic!("fuzz target {target}: seed {i} (in name order) failed: {error}");
        }
    }
    let seeds_ran = ran.load(Ordering::Relaxed);
    let result = runner.run(&strategy, guarded);
    drop(watchdog);
    eprintln!(
        "fuzz target {target}: {seeds_ran} seeds and {} generated cases in {:.2?}",
        ran.load(Ordering::Relaxed) - seeds_ran,
        started.elapsed()
    );
    if let Err(error) = result {
        panic!("fuzz target {target} failed: {error}");
    }
}

/// A thread that aborts the process when one case runs for longer than
/// [`HUNG_CASE`], printing the case: a target in an endless loop would
/// otherwise hang the test run with nothing said.
struct Watchdog<T: Send + 'static> {
    current: Arc<Mutex<Option<(Instant, T)>>>,
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl<T: fmt::Debug + Clone + Send + 'static> Watchdog<T> {
    fn start(target: &str) -> Watchdog<T> {
        let current: Arc<Mutex<Option<(Instant, T)>>> = Arc::default();
        let done = Arc::new(AtomicBool::new(false));
        let thread = {
            let (current, done, target) = (current.clone(), done.clone(), target.to_string());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    std::thread::park_timeout(Duration::from_millis(500));
                    let current = current.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some((started, value)) = current.as_ref()
                        && started.elapsed() > HUNG_CASE
                    {
                        eprintln!(
                            "fuzz target {target}: a case has run for over {HUNG_CASE:?}, aborting; input: {value:?}"
                        );
                        std::process::abort();
                    }
                }
            })
        };
        Watchdog { current, done, thread: Some(thread) }
    }

    /// Marks `value` as the case running, until the guard is dropped.
    fn watch(&self, value: &T) -> Watched<'_, T> {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), value.clone()));
        Watched(self)
    }
}

impl<T: Send + 'static> Drop for Watchdog<T> {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// The case [`Watchdog::watch`] marked as running; unmarked on drop.
struct Watched<'w, T: Send + 'static>(&'w Watchdog<T>);

impl<T: Send + 'static> Drop for Watched<'_, T> {
    fn drop(&mut self) {
        *self.0.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}
