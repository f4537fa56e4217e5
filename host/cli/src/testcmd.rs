//! `zapwasm test [DIR]`: the crate's test cases (`tests/zapwasm/*.json`)
//! run against its component with recorded HTTP fixtures
//! (`zapwasm-testing`): replayed offline, or with `--record` sent to the
//! real API and recorded, secrets censored. Prints each case, then
//! `N passed, N failed`; `--junit FILE` writes JUnit XML.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use zapwasm_testing::{Mode, Runner, load_suites};

use crate::args::TestArgs;
use crate::report::{out, safe, usage, with_causes};
use crate::{EXIT_LOAD, EXIT_TESTS_FAILED, component, config, dotenv};

/// Runs `zapwasm test`.
pub(crate) async fn run(args: TestArgs) -> ExitCode {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let cases = args.cases.clone().unwrap_or_else(|| dir.join(zapwasm_testing::CASES_DIR));
    let suites = match load_suites(&cases) {
        Ok(suites) if suites.iter().any(|suite| !suite.cases.is_empty()) => suites,
        Ok(_) => return usage(format!("no test cases in {}: add a suite of cases (*.json)", cases.display())),
        Err(e) => return usage(e),
    };
    let env_file = args.env_file.clone().unwrap_or_else(|| dir.join(".env"));
    let dotenv = match read_env_file(&env_file, args.env_file.is_some()) {
        Ok(dotenv) => dotenv,
        Err(e) => return usage(e),
    };
    let component = match &args.component {
        Some(component) => component.clone(),
        None => match component::resolve(Some(&dir)).await {
            Ok(path) => path,
            Err(code) => return code,
        },
    };
    let mode = if args.record { Mode::Record } else { Mode::Replay };
    let mut builder = zapwasm_testing::host_builder(mode);
    if !args.cache.no_cache
        && let Some(cache) = args.cache.cache_dir.clone().or_else(config::default_cache_dir)
    {
        builder = builder.cache_dir(cache);
    }
    let host = match builder.build() {
        Ok(host) => host,
        Err(e) => return usage(with_causes(&e)),
    };
    let app = match host.load_file(&component).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("zapwasm: cannot load {}: {}", component.display(), with_causes(&e));
            return ExitCode::from(EXIT_LOAD);
        }
    };
    let runner = Runner { app, auth_data: dotenv.auth_data, env: dotenv.env, mode, dir: cases };
    let results = runner.run(&suites, args.filter.as_deref()).await;
    for result in &results {
        let status = if result.passed() { "ok" } else { "FAILED" };
        out(format_args!(
            "{status:<7} {}/{} ({} ms)",
            safe(&result.suite),
            safe(&result.name),
            result.duration.as_millis()
        ));
        for failure in &result.failures {
            for line in failure.lines() {
                out(format_args!("        {}", safe(line)));
            }
        }
    }
    let failed = results.iter().filter(|result| !result.passed()).count();
    if let Some(path) = &args.junit
        && let Err(e) = std::fs::write(path, zapwasm_testing::junit(&results))
    {
        eprintln!("zapwasm: cannot write {}: {e}", path.display());
    }
    if mode == Mode::Record {
        eprintln!("zapwasm: recorded into {}", runner.dir.join("recordings").display());
    }
    out(format_args!("{} passed, {failed} failed", results.len() - failed));
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(EXIT_TESTS_FAILED) }
}

/// The `.env` file: required when named, else read when present.
fn read_env_file(path: &Path, required: bool) -> Result<dotenv::DotEnv, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => dotenv::parse(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(dotenv::DotEnv::default()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}
