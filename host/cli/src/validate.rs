//! `zapwasm validate`: loads an integration and prints what the definition
//! checks found (`zapwasm_host::check_definition`, run by every load), as
//! text or JSON; exits with [`EXIT_INVALID`] when any is an error.

use std::process::ExitCode;

use serde_json::json;
use zapwasm_host::{Finding, Severity};

use crate::EXIT_INVALID;
use crate::args::ValidateArgs;
use crate::component;

/// Runs `zapwasm validate`.
pub(crate) async fn run(args: ValidateArgs) -> ExitCode {
    let path = match component::resolve(args.target.as_deref()).await {
        Ok(path) => path,
        Err(code) => return code,
    };
    let app = match component::load(&path, &args.cache).await {
        Ok(app) => app,
        Err(code) => return code,
    };
    let findings = app.findings();
    let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
    let warnings = findings.len() - errors;
    if args.json {
        let report = json!({
            "component": path.display().to_string(),
            "errors": errors,
            "warnings": warnings,
            "findings": findings,
        });
        crate::report::print_json(&report);
    } else {
        crate::report::write_stdout(&text_report(&path.display().to_string(), findings));
    }
    if errors > 0 || (args.strict && warnings > 0) { ExitCode::from(EXIT_INVALID) } else { ExitCode::SUCCESS }
}

/// The findings as people read them: errors first, each with its ID, path,
/// message and fix; then a count.
fn text_report(name: &str, findings: &[Finding]) -> String {
    let mut out = String::new();
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    // Errors first; within a severity, the definition's order.
    sorted.sort_by_key(|f| f.severity);
    for finding in sorted {
        // The path and the message quote the integration's own text.
        let safe = crate::report::safe;
        out.push_str(&format!("{:<7} {:<24} {}\n", finding.severity, finding.id, safe(&finding.path)));
        out.push_str(&format!("        {}\n", safe(&finding.message)));
        out.push_str(&format!("        fix: {}\n", safe(&finding.hint)));
    }
    let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
    let warnings = findings.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if findings.is_empty() {
        out.push_str(&format!("{name}: valid, no findings\n"));
    } else {
        out.push_str(&format!("{name}: {}, {}\n", plural(errors, "error"), plural(warnings, "warning")));
    }
    out
}
