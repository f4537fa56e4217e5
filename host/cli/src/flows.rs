//! The flows that span calls, driven by hand: subscribing a trigger,
//! delivering a hook payload from a file, unsubscribing, resuming a
//! callback, hydrating a dehydrated value, and polling with dedupe. State lives in `--state-dir` (a
//! SQLite file), so one run's subscription or pending callback is the next
//! run's.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};
use zapwasm_host::{App, Delivery, FlowError, Host, IncomingRequest, OperationKind, Outcome, ResumeError, Scope};

use crate::args::InvokeArgs;
use crate::config::{InvokeConfig, scope, text_argument};
use crate::report::{EXIT_NO_SUCH_METHOD, print_logs, print_outcome, safe, usage};
use crate::{EXIT_FLOW, EXIT_STATE};

/// How often a polling subscription made by hand says it is polled (the
/// command line polls only when run; a service uses the interval).
const LOCAL_POLL_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// Runs the flow the method words name, if they name one.
pub(crate) async fn run(host: &Host, app: &App, args: &InvokeArgs, config: &InvokeConfig) -> Option<ExitCode> {
    let words: Vec<&str> = args.method.iter().map(String::as_str).collect();
    // A trigger the integration lacks is the same error whichever command
    // names it (`trigger KEY`, `subscribe KEY`, `--dedupe`).
    if let ["subscribe", key] | ["trigger" | "triggers", key] = words[..]
        && (words[0] == "subscribe" || args.dedupe)
        && app.definition().operation(OperationKind::Trigger, key).is_none()
    {
        let keys: Vec<String> = app
            .definition()
            .operations()
            .into_iter()
            .filter(|operation| operation.kind == OperationKind::Trigger)
            .map(|operation| operation.key)
            .collect();
        eprintln!(
            "zapwasm: no_such_method error: {}",
            safe(&format!("no trigger {key:?} in this integration; it has: {}", keys.join(", ")))
        );
        return Some(ExitCode::from(EXIT_NO_SUCH_METHOD));
    }
    let account = scope(args);
    let auth_data = config.bundle.auth_data.clone();
    let input_data = config.bundle.input_data.clone();
    Some(match words[..] {
        ["subscribe", trigger] => {
            let hook = app.definition().get(&format!("triggers.{trigger}.operation.type")) == Some(&json!("hook"));
            let subscribed = if hook {
                app.subscribe_hook(trigger, &account, input_data, auth_data).await
            } else {
                app.start_polling(trigger, &account, input_data, auth_data, LOCAL_POLL_INTERVAL).await
            };
            match subscribed {
                Ok(subscribed) => {
                    print_quiet_logs(&subscribed.outcome, args);
                    print_json(&json!({
                        "id": subscribed.subscription.id,
                        "trigger": subscribed.subscription.trigger,
                        "delivery": subscribed.subscription.delivery,
                        "target_url": subscribed.subscription.target_url,
                        "subscribe_data": subscribed.subscription.subscribe_data,
                    }));
                    ExitCode::SUCCESS
                }
                Err(error) => flow_error(error, args),
            }
        }
        ["deliver", id] => {
            let request = match incoming_request(args) {
                Ok(request) => request,
                Err(e) => return Some(usage(e)),
            };
            let delivered = match host.subscription(id).await {
                Ok(subscription) if same_account(&subscription.scope, &account) => {
                    app.deliver_hook(&subscription, auth_data, &request).await
                }
                Ok(_) => Err(FlowError::UnknownSubscription),
                Err(error) => Err(error),
            };
            match delivered {
                Ok(delivered) => {
                    for outcome in &delivered.outcomes {
                        print_quiet_logs(outcome, args);
                    }
                    if delivered.duplicate {
                        eprintln!("zapwasm: this delivery's ID was seen before; nothing ran");
                    }
                    print_json(&Value::Array(delivered.items));
                    ExitCode::SUCCESS
                }
                Err(error) => flow_error(error, args),
            }
        }
        ["unsubscribe", id] => match app.unsubscribe(&account, id, auth_data).await {
            Ok(outcome) => {
                if let Some(outcome) = &outcome {
                    print_quiet_logs(outcome, args);
                }
                print_json(&json!({"unsubscribed": id}));
                ExitCode::SUCCESS
            }
            Err(error) => flow_error(error, args),
        },
        ["subscriptions"] => match host.stores().subscriptions.subscriptions(&account).await {
            Ok(mut subscriptions) => {
                subscriptions.sort_by(|a, b| a.trigger.cmp(&b.trigger).then(a.id.cmp(&b.id)));
                let listed: Vec<Value> = subscriptions
                    .iter()
                    .map(|s| json!({"id": s.id, "trigger": s.trigger, "delivery": s.delivery, "target_url": s.target_url}))
                    .collect();
                print_json(&Value::Array(listed));
                ExitCode::SUCCESS
            }
            Err(error) => flow_error(FlowError::State(error), args),
        },
        ["resume", id] => {
            let request = match incoming_request(args) {
                Ok(request) => request,
                Err(e) => return Some(usage(e)),
            };
            let pending = match host.claim_callback(id).await {
                Ok(pending) if same_account(&pending.scope, &account) => pending,
                Ok(_) | Err(ResumeError::Unknown) => {
                    eprintln!("zapwasm: no pending callback {id:?} for this integration and account");
                    return Some(ExitCode::from(EXIT_FLOW));
                }
                Err(ResumeError::State(error)) => {
                    eprintln!("zapwasm: the state failed: {error}");
                    return Some(ExitCode::from(EXIT_STATE));
                }
                Err(error) => {
                    eprintln!("zapwasm: cannot resume callback {id:?}: {error}");
                    return Some(ExitCode::from(EXIT_FLOW));
                }
            };
            print_outcome(&app.resume(pending, auth_data, &request).await, args)
        }
        ["hydrate", text] => match app.hydrate(text, auth_data, account).await {
            Ok(outcome) => print_outcome(&outcome, args),
            Err(error) => {
                eprintln!("zapwasm: cannot hydrate: {}", crate::report::safe(&error.to_string()));
                ExitCode::from(EXIT_FLOW)
            }
        },
        ["trigger" | "triggers", trigger] if args.dedupe => {
            return Some(dedupe(host, app, args, config, trigger).await);
        }
        _ if args.dedupe => usage("--dedupe runs a polling trigger: `zapwasm invoke COMPONENT trigger KEY --dedupe`"),
        _ => return None,
    })
}

/// `trigger KEY --dedupe`: a poll of this account's local subscription to
/// the trigger, printing only new items; the first run makes the
/// subscription and only seeds it.
async fn dedupe(host: &Host, app: &App, args: &InvokeArgs, config: &InvokeConfig, trigger: &str) -> ExitCode {
    let account = scope(args);
    let auth_data = config.bundle.auth_data.clone();
    let existing = match host.stores().subscriptions.subscriptions(&account).await {
        Ok(subscriptions) => subscriptions.into_iter().find(|s| {
            s.trigger == trigger
                && matches!(s.delivery, Delivery::Polling { .. })
                && s.input_data == config.bundle.input_data
        }),
        Err(error) => return flow_error(FlowError::State(error), args),
    };
    let Some(subscription) = existing else {
        let input = config.bundle.input_data.clone();
        return match app.start_polling(trigger, &account, input, auth_data, LOCAL_POLL_INTERVAL).await {
            Ok(subscribed) => {
                print_quiet_logs(&subscribed.outcome, args);
                eprintln!(
                    "zapwasm: started local subscription {} to {trigger}; its first poll only marks what it \
                     found as seen, so the next run prints only new items",
                    subscribed.subscription.id
                );
                print_json(&json!([]));
                ExitCode::SUCCESS
            }
            Err(error) => flow_error(error, args),
        };
    };
    let polled = match app.poll(&subscription, auth_data).await {
        Ok(polled) => polled,
        Err(error) => return flow_error(error, args),
    };
    print_quiet_logs(&polled.outcome, args);
    // The items are printed before they are marked seen: a run cut short
    // prints them again next time rather than never.
    print_json(&Value::Array(polled.new_items.clone()));
    match app.acknowledge_poll(&subscription, &polled).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => flow_error(error, args),
    }
}

/// The request a hook sender or a callback's caller would have made, from
/// --body and --header.
fn incoming_request(args: &InvokeArgs) -> Result<IncomingRequest, String> {
    let body = match &args.body {
        Some(body) => text_argument("--body", body)?,
        None => String::new(),
    };
    let mut headers = Vec::new();
    for header in &args.header {
        let (name, value) = header
            .split_once(':')
            .filter(|(name, _)| !name.trim().is_empty())
            .ok_or_else(|| format!("--header: expected `Name: value`, got {header:?}"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    if !body.is_empty() && !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
        headers.push(("Content-Type".into(), "application/json".into()));
    }
    Ok(IncomingRequest { method: "POST".into(), query: String::new(), headers, body: body.into_bytes() })
}

fn same_account(scope: &Scope, account: &Scope) -> bool {
    scope.integration == account.integration && scope.account == account.account
}

fn print_quiet_logs(outcome: &Outcome, args: &InvokeArgs) {
    if !args.quiet {
        print_logs(&outcome.logs);
    }
}

fn print_json(value: &Value) {
    crate::report::print_json(value);
}

/// Prints why a flow's step did not run; its exit code.
fn flow_error(error: FlowError, args: &InvokeArgs) -> ExitCode {
    match error {
        FlowError::Call(outcome) => print_outcome(&outcome, args),
        FlowError::State(error) => {
            eprintln!("zapwasm: the state failed: {error}");
            ExitCode::from(EXIT_STATE)
        }
        FlowError::NotConfigured { setting: "hook_base_url" } => {
            usage("subscribing a REST hook needs --hook-base-url (the address your hook receiver answers)")
        }
        other => {
            eprintln!("zapwasm: {}", crate::report::safe(&other.to_string()));
            ExitCode::from(EXIT_FLOW)
        }
    }
}
