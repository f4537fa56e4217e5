//! Which component a command runs: a `.wasm` file as it is, or an
//! integration crate's directory, built first (with `zapwasm-build`) so
//! nothing runs a stale component, and snapshotted with its app built
//! (`zapwasm_build::snapshot`) so it runs as `zapwasm build` ships it;
//! `zapwasm build` itself; and loading on a host that keeps nothing but
//! the compiled-component cache.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use zapwasm_host::{App, Host};

use crate::args::{BuildArgs, CacheArgs};
use crate::config;
use crate::report::{usage, with_causes};
use crate::{EXIT_BUILD, EXIT_LOAD};

/// The component `target` names: a file as it is; a directory (default:
/// the current one) is an integration crate, built first.
pub(crate) async fn resolve(target: Option<&Path>) -> Result<PathBuf, ExitCode> {
    let target = target.unwrap_or(Path::new("."));
    if target.is_dir() {
        return build(zapwasm_build::Options::new(target), true).await;
    }
    if !target.exists() {
        return Err(usage(format!("{}: no such file or directory", target.display())));
    }
    Ok(target.to_path_buf())
}

/// Runs one step of a build on the blocking pool; a failure is said on
/// stderr (after `failed`, with its causes) and is the build's exit code.
async fn blocking_step<T, E>(
    task: &str,
    failed: &str,
    step: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ExitCode>
where
    T: Send + 'static,
    E: std::error::Error + Send + 'static,
{
    match tokio::task::spawn_blocking(step).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(e)) => {
            eprintln!("zapwasm: {failed}{}", with_causes(&e));
            Err(ExitCode::from(EXIT_BUILD))
        }
        Err(e) => {
            eprintln!("zapwasm: the {task} task failed: {e}");
            Err(ExitCode::from(EXIT_BUILD))
        }
    }
}

/// Builds a crate (cargo's progress and errors on stderr), snapshots it
/// unless told not to, says what came out, and returns the component to run.
async fn build(options: zapwasm_build::Options, snapshot: bool) -> Result<PathBuf, ExitCode> {
    let built = blocking_step("build", "", move || zapwasm_build::build(&options)).await?;
    eprintln!(
        "zapwasm: built {} ({:.0} KiB) in {:.1} s",
        built.component.display(),
        built.size as f64 / 1024.0,
        built.duration.as_secs_f64()
    );
    if !snapshot {
        return Ok(built.component);
    }
    let snapshot = move || zapwasm_build::snapshot::snapshot_built(&built);
    let snapshotted = blocking_step("snapshot", "cannot snapshot the component: ", snapshot).await?;
    eprintln!(
        "zapwasm: snapshotted with its app built: {} ({:.0} KiB, was {:.0} KiB) in {:.1} s",
        snapshotted.component.display(),
        snapshotted.size_after as f64 / 1024.0,
        snapshotted.size_before as f64 / 1024.0,
        snapshotted.duration.as_secs_f64()
    );
    Ok(snapshotted.component)
}

/// `zapwasm build [DIR]`: builds the crate, precompiles the component into
/// the cache (so the next command maps it in), prints its path on stdout.
pub(crate) async fn build_command(args: BuildArgs) -> ExitCode {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let mut options = zapwasm_build::Options::new(&dir).locked(args.locked).quiet(args.quiet);
    if let Some(target_dir) = &args.target_dir {
        options = options.target_dir(target_dir);
    }
    let component = match build(options, !args.no_snapshot).await {
        Ok(component) => component,
        Err(code) => return code,
    };
    let app = match load(&component, &args.cache).await {
        Ok(app) => app,
        Err(code) => return code,
    };
    let info = app.load_info();
    eprintln!(
        "zapwasm: precompiled in {:.0} ms ({}); {} definition finding(s), see `zapwasm validate`",
        info.duration.as_secs_f64() * 1000.0,
        match info.cache {
            zapwasm_host::CacheUse::Hit => "from the cache",
            zapwasm_host::CacheUse::Miss => "into the cache",
            _ => "not cached",
        },
        app.findings().len()
    );
    crate::report::out(component.display());
    ExitCode::SUCCESS
}

/// Loads a component on a host that keeps only the compiled-component
/// cache (no state directory: nothing runs here).
pub(crate) async fn load(path: &Path, cache: &CacheArgs) -> Result<App, ExitCode> {
    let mut builder = Host::builder();
    if !cache.no_cache
        && let Some(dir) = cache.cache_dir.clone().or_else(config::default_cache_dir)
    {
        builder = builder.cache_dir(dir);
    }
    let host = builder.build().map_err(|e| usage(with_causes(&e)))?;
    host.load_file(path).await.map_err(|e| {
        eprintln!("zapwasm: cannot load {}: {}", path.display(), with_causes(&e));
        ExitCode::from(EXIT_LOAD)
    })
}
