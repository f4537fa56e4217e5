//! The guest of the benchmark's `snapshot` scenario
//! (`host/bench/benches/zapwasm/snapshot.rs`): an app of 1 polling trigger,
//! or of 40 with the feature `forty`, each described as a real one is
//! (label, description, an input field, output fields, a sample). The
//! benchmark calls `triggers.op_0.operation.perform`, which returns a
//! one-item list at once, so what differs between the two is what a call
//! pays for the size of the app: building it, unless the component was
//! snapshotted with the app built.

use zapwasm_guest::prelude::*;

/// The operations in the app.
const OPERATIONS: usize = if cfg!(feature = "forty") { 40 } else { 1 };

/// The app: `OPERATIONS` triggers, `op_0` ...
fn app() -> App {
    (0..OPERATIONS).fold(App::new("1.0.0"), |app, n| app.trigger(operation(n)))
}

zapwasm_guest::export_app!(app);

/// Trigger `op_<n>`.
fn operation(n: usize) -> Trigger {
    Trigger::new(format!("op_{n}"), "Record")
        .display(format!("New Record {n}"), format!("Triggers when record kind {n} is added."))
        .operation(
            Operation::polling()
                .perform(first)
                .input_field(Field::new("status").label("Status").kind("string"))
                .output_field(Field::new("id").label("ID").kind("integer").primary(true))
                .output_field(Field::new("name").label("Name").kind("string"))
                .sample(json!({ "id": 1, "name": "Example record", "kind": n })),
        )
}

/// One item, at once.
fn first(_z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
    Ok(json!([{ "id": 1, "name": "record" }]))
}
