//! The snapshot step (feature `snapshot`): a built component pre-initialised,
//! so every instance starts with the app already built.
//!
//! A component built with `zapwasm-guest` exports `initialize`, which builds
//! the app and keeps it in the instance's memory. [`snapshot`] instantiates
//! the component, runs `initialize`, and writes the instance's memories and
//! globals back into the component as its initial state
//! ([`wasmtime-wizer`](https://docs.rs/wasmtime-wizer)). The host then
//! runs the result like any component: it never calls `initialize`.
//!
//! What runs at build time must not read anything that differs between
//! instances, or every instance would share what it read. While
//! initialising, every import of the component (the z capabilities, the
//! clocks, random numbers, the environment, stdio) is a stub that traps, and
//! the snapshot fails naming the import ([`SnapshotError::ImportAtBuild`]).
//! The one import it answers is `wasi:random/insecure-seed`, which the
//! standard library reads for the keys of every `HashMap` (and so of every
//! JSON object) the first time one is made, and then keeps for the rest of
//! the instance: an app function that makes a JSON object (a sample) reads
//! it. Those cached keys are taken out of the snapshot, so each instance
//! draws its own on first use ([`snapshot`] says how, and checks it did).
//!
//! Kept out of `zapwasm-host` on purpose: a host never needs it, and the
//! snapshot runs on its own engine (fuel-limited, no pooling, no epochs).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, Instance, Lift, Linker, WasmList};
use wasmtime::{Config, Engine, Store, StoreContextMut};
use wasmtime_wizer::{ComponentInstanceState, Wizer};

use crate::Built;

/// The export that builds the app (`zapwasm-guest`'s `export_app!`).
pub const INIT_EXPORT: &str = "initialize";

/// The interface whose `definition()` checks the result.
const INTEGRATION: &str = "zapwasm:integration/integration@0.1.0";

/// Wasm instructions (fuel) an app function may run at build time: some
/// hundred times what a large app takes, and a bound on one that loops.
const INIT_FUEL: u64 = 2_000_000_000;

/// The import the standard library reads its hash keys from.
const INSECURE_SEED: &str = "wasi:random/insecure-seed@";

/// Why a component could not be snapshotted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The component file could not be read or the result written.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The component exports no `initialize`: it was built with a
    /// `zapwasm-guest` older than the snapshot step, or without it.
    #[error(
        "the component exports no `{INIT_EXPORT}` function, so its app cannot be built ahead of time \
         (it was not built with zapwasm-guest's export_app!, or with an older zapwasm-guest): \
         update zapwasm-guest, or build with --no-snapshot"
    )]
    NoInitExport,
    /// The app function used an import while the app was built.
    #[error("the app function called `{import}` while the app was built ahead of time; {}", advice(import))]
    ImportAtBuild {
        /// The import, `interface#function`.
        import: String,
    },
    /// The app function ran longer than the snapshot step allows.
    #[error(
        "the app function ran more than {INIT_FUEL} instructions while the app was built ahead of time \
         (a loop?); build with --no-snapshot to run it on the first call instead"
    )]
    OutOfFuel,
    /// The app function trapped (a panic, usually).
    #[error(
        "the app function failed while the app was built ahead of time (a panic, usually; build with \
         --no-snapshot and call the component to see its message)"
    )]
    Trap(#[source] wasmtime::Error),
    /// The standard library's hash keys could not be taken out of the
    /// snapshot, so every instance would hash with the same keys.
    #[error(
        "cannot leave the hash keys to each instance: {0}; the snapshot is refused rather than \
         every instance sharing them (build with --no-snapshot)"
    )]
    HashKeys(String),
    /// The component is not valid, or the snapshot machinery failed.
    #[error("cannot snapshot the component")]
    Wasm(#[source] wasmtime::Error),
}

/// What to do about an import used at build time.
fn advice(import: &str) -> &'static str {
    if import.starts_with("wasi:cli/stderr") || import.starts_with("wasi:cli/stdout") {
        "a panic, usually (its message is written to stderr): build with --no-snapshot and call the \
         component to see it"
    } else {
        "the app function runs once, at build time, and what it reads is then shared by every \
         instance: it must not read the clock, random numbers or the environment, nor use z. Do that \
         in the functions the app runs (or build with --no-snapshot)"
    }
}

/// A snapshotted component, next to the plain one.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Snapshotted {
    /// The snapshotted component (`<lib name>.snapshot.wasm` beside the plain one).
    pub component: PathBuf,
    /// The plain component's size in bytes.
    pub size_before: u64,
    /// The snapshotted component's size in bytes.
    pub size_after: u64,
    /// How long the snapshot took.
    pub duration: Duration,
}

/// Snapshots a built component into `<lib name>.snapshot.wasm` beside it
/// (cargo's artifact is left as cargo made it).
pub fn snapshot_built(built: &Built) -> Result<Snapshotted, SnapshotError> {
    let output = built.component.with_extension("snapshot.wasm");
    snapshot_file(&built.component, &output)
}

/// Snapshots the component at `input` into `output` (written whole, then
/// renamed into place).
pub fn snapshot_file(input: &Path, output: &Path) -> Result<Snapshotted, SnapshotError> {
    let started = Instant::now();
    let wasm = std::fs::read(input).map_err(|source| SnapshotError::Io { path: input.to_path_buf(), source })?;
    let snapshotted = snapshot(&wasm)?;
    let partial = output.with_extension("wasm.partial");
    std::fs::write(&partial, &snapshotted)
        .and_then(|()| std::fs::rename(&partial, output))
        .map_err(|source| SnapshotError::Io { path: output.to_path_buf(), source })?;
    Ok(Snapshotted {
        component: output.to_path_buf(),
        size_before: wasm.len() as u64,
        size_after: snapshotted.len() as u64,
        duration: started.elapsed(),
    })
}

/// Snapshots a component: runs its `initialize` export and returns the
/// component with the memory and globals it left as its initial state.
///
/// The app is built twice, in two instances given different hash seeds;
/// the two memories differ only where the seed went (the standard
/// library's cached keys, and the keys of each map the app function made,
/// each the seed plus the count of maps made before it). The cached keys
/// are the pair with the highest count; the snapshot has them, and the
/// flag that says they were drawn, cleared, so each instance draws its
/// own. The result is then checked: its `definition()` must equal the
/// plain component's and, when the app function drew keys, draw them again.
pub fn snapshot(wasm: &[u8]) -> Result<Vec<u8>, SnapshotError> {
    futures::executor::block_on(snapshot_async(wasm))
}

async fn snapshot_async(wasm: &[u8]) -> Result<Vec<u8>, SnapshotError> {
    let mut wizer = Wizer::new();
    wizer.init_func(INIT_EXPORT).keep_init_func(true);
    let mut config = Config::new();
    config.wasm_component_model(true).consume_fuel(true);
    let engine = Engine::new(&config).map_err(SnapshotError::Wasm)?;

    let (context, instrumented) = wizer.instrument_component(wasm).map_err(SnapshotError::Wasm)?;
    let instrumented = Component::new(&engine, &instrumented).map_err(SnapshotError::Wasm)?;
    if instrumented.get_export_index(None, INIT_EXPORT).is_none() {
        return Err(SnapshotError::NoInitExport);
    }
    let init_linker = linker(&engine, &instrumented)?;

    let seeds = [random_seed()?, random_seed()?];
    if seeds[0].0 == seeds[1].0 || seeds[0].1 == seeds[1].1 {
        return Err(SnapshotError::HashKeys("the two random seeds drawn were equal".into()));
    }
    let (mut store_a, instance_a) = initialised(&engine, &init_linker, &instrumented, seeds[0]).await?;
    let (mut store_b, instance_b) = initialised(&engine, &init_linker, &instrumented, seeds[1]).await?;
    let seed_read = store_a.data().seed_reads > 0;

    let mut pair = Pair {
        a: Side { store: &mut store_a, instance: instance_a },
        b: Side { store: &mut store_b, instance: instance_b },
        seeds,
        cleared: BTreeSet::new(),
        error: None,
    };
    let snapshotted = wizer.snapshot_component(&context, &mut pair).await.map_err(SnapshotError::Wasm)?;
    if let Some(error) = pair.error {
        return Err(SnapshotError::HashKeys(error));
    }
    if seed_read && pair.cleared.len() != 1 {
        return Err(SnapshotError::HashKeys(format!(
            "the app function read the hash seed, and {} cached copies of it were found instead of one",
            pair.cleared.len()
        )));
    }

    // The check: the plain instance's definition, and the snapshot's, which
    // must draw the hash seed afresh.
    let expected = definition(&mut store_a, &instance_a).await?;
    let component = Component::new(&engine, &snapshotted).map_err(SnapshotError::Wasm)?;
    let check_linker = linker(&engine, &component)?;
    let mut store = init_store(&engine, random_seed()?)?;
    let instance = check_linker.instantiate_async(&mut store, &component).await.map_err(SnapshotError::Wasm)?;
    let got = definition(&mut store, &instance).await?;
    // Keys drawn during the initialisation were cleared from the snapshot:
    // the snapshot's definition, built the same way, must draw them again.
    if seed_read && store.data().seed_reads == 0 {
        return Err(SnapshotError::HashKeys(
            "an instance of the snapshot does not draw its own hash keys (this standard library keeps \
             them where the snapshot step does not look)"
                .into(),
        ));
    }
    if got != expected {
        return Err(SnapshotError::Wasm(wasmtime::format_err!(
            "the snapshotted component's definition differs from the plain one's"
        )));
    }
    Ok(snapshotted)
}

/// What a store holds while initialising.
struct Init {
    /// What `insecure-seed` answers.
    seed: (u64, u64),
    /// How many times it was asked.
    seed_reads: u32,
}

/// A fresh seed from the OS.
fn random_seed() -> Result<(u64, u64), SnapshotError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| SnapshotError::HashKeys(format!("no random seed from the operating system: {e}")))?;
    let (k0, k1) = bytes.split_at(8);
    Ok((u64::from_le_bytes(k0.try_into().unwrap_or_default()), u64::from_le_bytes(k1.try_into().unwrap_or_default())))
}

fn init_store(engine: &Engine, seed: (u64, u64)) -> Result<Store<Init>, SnapshotError> {
    let mut store = Store::new(engine, Init { seed, seed_reads: 0 });
    store.set_fuel(INIT_FUEL).map_err(SnapshotError::Wasm)?;
    Ok(store)
}

/// The initialising linker: `insecure-seed` answered (and counted), every
/// other import a stub that traps.
fn linker(engine: &Engine, component: &Component) -> Result<Linker<Init>, SnapshotError> {
    let mut linker = Linker::new(engine);
    for (name, _) in component.component_type().imports(engine) {
        if name.starts_with(INSECURE_SEED) {
            linker
                .instance(name)
                .and_then(|mut seed| {
                    seed.func_wrap("insecure-seed", |mut store: StoreContextMut<'_, Init>, (): ()| {
                        store.data_mut().seed_reads += 1;
                        Ok((store.data().seed,))
                    })
                })
                .map_err(SnapshotError::Wasm)?;
        }
    }
    linker.define_unknown_imports_as_traps(component).map_err(SnapshotError::Wasm)?;
    Ok(linker)
}

/// An instance of the instrumented component with `initialize` run.
async fn initialised(
    engine: &Engine,
    linker: &Linker<Init>,
    component: &Component,
    seed: (u64, u64),
) -> Result<(Store<Init>, Instance), SnapshotError> {
    let mut store = init_store(engine, seed)?;
    let instance = linker.instantiate_async(&mut store, component).await.map_err(at_build)?;
    let init = instance.get_typed_func::<(), ()>(&mut store, INIT_EXPORT).map_err(|_| SnapshotError::NoInitExport)?;
    init.call_async(&mut store, ()).await.map_err(at_build)?;
    Ok((store, instance))
}

/// `definition()` of an instance.
async fn definition(store: &mut Store<Init>, instance: &Instance) -> Result<String, SnapshotError> {
    let interface = instance
        .get_export_index(&mut *store, None, INTEGRATION)
        .ok_or_else(|| SnapshotError::Wasm(wasmtime::format_err!("the component does not export `{INTEGRATION}`")))?;
    let func = instance
        .get_export_index(&mut *store, Some(&interface), "definition")
        .ok_or_else(|| SnapshotError::Wasm(wasmtime::format_err!("`{INTEGRATION}` exports no `definition`")))?;
    let func = instance.get_typed_func::<(), (String,)>(&mut *store, &func).map_err(SnapshotError::Wasm)?;
    let (definition,) = func.call_async(&mut *store, ()).await.map_err(at_build)?;
    Ok(definition)
}

/// A failure while the app was built, named.
fn at_build(error: wasmtime::Error) -> SnapshotError {
    if let Some(wasmtime::Trap::OutOfFuel) = error.downcast_ref::<wasmtime::Trap>() {
        return SnapshotError::OutOfFuel;
    }
    let text = format!("{error:?}");
    const UNKNOWN: &str = "unknown import: `";
    if let Some(at) = text.find(UNKNOWN) {
        let rest = &text[at + UNKNOWN.len()..];
        if let Some(end) = rest.find('`') {
            return SnapshotError::ImportAtBuild { import: rest[..end].to_string() };
        }
    }
    SnapshotError::Trap(error)
}

/// One initialised instance.
struct Side<'a> {
    store: &'a mut Store<Init>,
    instance: Instance,
}

impl Side<'_> {
    /// Calls one of the accessors wizer added (`instance#func`, no
    /// parameters, one result).
    async fn call<R: Lift + Send + Sync + 'static>(&mut self, instance: &str, func: &str) -> Result<R, String> {
        let store = &mut *self.store;
        let outer = self
            .instance
            .get_export_index(&mut *store, None, instance)
            .ok_or_else(|| format!("the instrumented component lost `{instance}`"))?;
        let inner = self
            .instance
            .get_export_index(&mut *store, Some(&outer), func)
            .ok_or_else(|| format!("the instrumented component lost `{instance}#{func}`"))?;
        let typed = self.instance.get_typed_func::<(), (R,)>(&mut *store, &inner).map_err(|e| format!("{e:#}"))?;
        // Reading state must not run out of the fuel the init left.
        store.set_fuel(INIT_FUEL).map_err(|e| format!("{e:#}"))?;
        typed.call_async(&mut *store, ()).await.map(|(value,)| value).map_err(|e| format!("{e:#}"))
    }

    async fn bytes(&mut self, instance: &str, func: &str) -> Result<Vec<u8>, String> {
        let list: WasmList<u8> = self.call(instance, func).await?;
        Ok(list.as_le_slice(&*self.store).to_vec())
    }
}

/// The two instances, read by wizer through the first; the second is read
/// alongside to find where the hash seed went.
struct Pair<'a> {
    a: Side<'a>,
    b: Side<'a>,
    seeds: [(u64, u64); 2],
    /// The memories (accessors) whose cached hash keys were cleared; wizer
    /// reads each memory twice.
    cleared: BTreeSet<String>,
    /// The first failure (the trait cannot return one).
    error: Option<String>,
}

impl Pair<'_> {
    fn fail(&mut self, error: String) {
        self.error.get_or_insert(error);
    }
}

impl ComponentInstanceState for Pair<'_> {
    async fn call_func_ret_list_u8(&mut self, instance: &str, func: &str, contents: impl FnOnce(&[u8]) + Send) {
        let mut a = match self.a.bytes(instance, func).await {
            Ok(a) => a,
            Err(e) => {
                self.fail(e);
                return contents(&[]);
            }
        };
        match self.b.bytes(instance, func).await {
            Ok(b) => match clear_cached_keys(&mut a, &b, self.seeds) {
                Ok(0) => {}
                Ok(_) => {
                    self.cleared.insert(format!("{instance}#{func}"));
                }
                Err(e) => self.fail(e),
            },
            Err(e) => self.fail(e),
        }
        contents(&a)
    }

    async fn call_func_ret_s32(&mut self, instance: &str, func: &str) -> i32 {
        self.a.call(instance, func).await.unwrap_or_else(|e| {
            self.fail(e);
            0
        })
    }

    async fn call_func_ret_s64(&mut self, instance: &str, func: &str) -> i64 {
        self.a.call(instance, func).await.unwrap_or_else(|e| {
            self.fail(e);
            0
        })
    }

    async fn call_func_ret_f32(&mut self, instance: &str, func: &str) -> u32 {
        self.a.call(instance, func).await.map(f32::to_bits).unwrap_or_else(|e| {
            self.fail(e);
            0
        })
    }

    async fn call_func_ret_f64(&mut self, instance: &str, func: &str) -> u64 {
        self.a.call(instance, func).await.map(f64::to_bits).unwrap_or_else(|e| {
            self.fail(e);
            0
        })
    }
}

fn word(bytes: &[u8], at: usize) -> u64 {
    bytes.get(at..at + 8).and_then(|w| w.try_into().ok()).map_or(0, u64::from_le_bytes)
}

/// Clears the standard library's cached hash keys in memory `a` (seeded
/// with `seeds[0]`), found by comparing it with memory `b` (seeded with
/// `seeds[1]`). Returns how many were cleared: 0 or 1.
///
/// Every pair of words `(seed.0 + n, seed.1)` at the same place in both
/// memories, with the same `n`, holds keys made from the seed: the keys of
/// a map (`n` maps were made before it) or the cache, which the standard
/// library bumps each time it hands keys out, so it holds the highest `n`.
/// The cache is an `Option<(u64, u64)>`: a tag word next to the keys, 1
/// when drawn; tag and keys are set to 0, as before the first draw. (Old
/// keys also linger in the stack's dead part; they are never read.)
fn clear_cached_keys(a: &mut [u8], b: &[u8], seeds: [(u64, u64); 2]) -> Result<usize, String> {
    if a.len() != b.len() {
        return Err("the two initialisations left memories of different sizes".into());
    }
    let ((a0, a1), (b0, b1)) = (seeds[0], seeds[1]);
    let mut found: Vec<(usize, u64)> = Vec::new();
    let mut at = 16;
    while at + 8 <= a.len() {
        if word(a, at) == a1 && word(b, at) == b1 {
            let n = word(a, at - 8).wrapping_sub(a0);
            if n == word(b, at - 8).wrapping_sub(b0) && n < 1 << 32 {
                found.push((at - 8, n));
            }
        }
        at += 8;
    }
    let Some(&(cache, highest)) = found.iter().max_by_key(|(_, n)| *n) else {
        return Ok(0);
    };
    if found.iter().filter(|(_, n)| *n == highest).count() > 1 {
        return Err(format!("{} copies of the latest hash keys, none of them the cache", found.len()));
    }
    // The tag is the word after the keys or the one before, as the
    // compiler laid the `Option` out (after, with Rust 1.95).
    let tagged = |at: usize| word(a, at) == 1 && word(b, at) == 1;
    let whole = if tagged(cache + 16) {
        cache..cache + 24
    } else if cache >= 8 && tagged(cache - 8) {
        cache - 8..cache + 16
    } else {
        return Err("the cached hash keys are not laid out as this step expects".into());
    };
    a[whole].fill(0);
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(memory: &mut [u8], at: usize, words: &[u64]) {
        for (i, word) in words.iter().enumerate() {
            memory[at + 8 * i..at + 8 * i + 8].copy_from_slice(&word.to_le_bytes());
        }
    }

    #[test]
    fn the_cache_is_the_pair_with_the_highest_count_and_is_cleared_with_its_tag() {
        let seeds = [(100, 7), (900, 9)];
        let (mut a, mut b) = (vec![0u8; 256], vec![0u8; 256]);
        // Two maps' keys (n = 0, 1) and the cache (n = 2), tagged after.
        put(&mut a, 16, &[100, 7]);
        put(&mut b, 16, &[900, 9]);
        put(&mut a, 48, &[101, 7]);
        put(&mut b, 48, &[901, 9]);
        put(&mut a, 120, &[102, 7, 1]);
        put(&mut b, 120, &[902, 9, 1]);
        let before = a.clone();
        assert_eq!(clear_cached_keys(&mut a, &b, seeds), Ok(1));
        assert!(a[120..144].iter().all(|&byte| byte == 0));
        assert_eq!(a[..120], before[..120], "the maps' keys are kept");
        // Tagged before.
        let (mut a, mut b) = (vec![0u8; 256], vec![0u8; 256]);
        put(&mut a, 40, &[1, 100, 7]);
        put(&mut b, 40, &[1, 900, 9]);
        assert_eq!(clear_cached_keys(&mut a, &b, seeds), Ok(1));
        assert!(a.iter().all(|&byte| byte == 0));
    }

    #[test]
    fn memories_without_the_seed_are_left_alone_and_odd_layouts_refused() {
        let seeds = [(100, 7), (900, 9)];
        let (mut a, b) = (vec![3u8; 64], vec![3u8; 64]);
        assert_eq!(clear_cached_keys(&mut a, &b, seeds), Ok(0));
        let (mut a, mut b) = (vec![0u8; 64], vec![0u8; 64]);
        put(&mut a, 24, &[5, 100, 7]);
        put(&mut b, 24, &[5, 900, 9]);
        assert!(clear_cached_keys(&mut a, &b, seeds).unwrap_err().contains("laid out"));
        assert!(clear_cached_keys(&mut a, &b[..32], seeds).unwrap_err().contains("sizes"));
    }
}
