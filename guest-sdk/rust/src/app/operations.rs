//! What an app does: triggers, searches and creates ([`Trigger`],
//! [`Search`], [`Create`], one builder over the [`Action`] they share),
//! each with its [`Operation`]: functions or shorthand requests, fields,
//! sample. Their method paths are `<kind plural>.<key>.operation.<method>`
//! (see `zapwasm_rules::method_path`).

use crate::{Map, Value, json};
use zapwasm_rules::method_path::{self, FieldList, OperationMethod};

use super::fields::Field;
use super::{Handler, Perform, Step, Text, Walk};
use crate::request::Request;

/// A static field, or a function returning fields (dynamic fields).
#[derive(Debug, Clone)]
enum FieldEntry {
    /// A field.
    Static(Box<Field>),
    /// A function giving fields, run by its method path (`inputFields.<i>`).
    Dynamic(Perform),
}

/// What a trigger, search or create does: its functions, fields and sample.
#[derive(Debug, Clone, Default)]
pub struct Operation {
    kind: Option<&'static str>,
    perform: Option<Step>,
    perform_list: Option<Step>,
    perform_subscribe: Option<Step>,
    perform_unsubscribe: Option<Step>,
    perform_resume: Option<Perform>,
    perform_buffer: Option<Perform>,
    buffer: Option<(Vec<String>, u32)>,
    input_fields: Vec<FieldEntry>,
    output_fields: Vec<FieldEntry>,
    sample: Option<Value>,
    can_paginate: Option<bool>,
}

impl Operation {
    /// An operation without a type: a search's or a create's.
    pub fn new() -> Operation {
        Operation::default()
    }

    /// A polling trigger's operation.
    pub fn polling() -> Operation {
        Operation { kind: Some("polling"), ..Operation::default() }
    }

    /// A hook trigger's operation (performSubscribe, performUnsubscribe, performList).
    pub fn hook() -> Operation {
        Operation { kind: Some("hook"), ..Operation::default() }
    }

    /// `perform`: polls, searches, creates, or turns a hook delivery into results.
    pub fn perform(mut self, perform: Perform) -> Operation {
        self.perform = Some(Step::Function(perform));
        self
    }

    /// `perform` as a shorthand request: its curlies are rendered, non-2xx
    /// answers raise, and the result is the parsed body.
    pub fn perform_request(mut self, request: Request) -> Operation {
        self.perform = Some(Step::Request(Box::new(request)));
        self
    }

    /// `performList`: a hook trigger's recent items, for samples.
    pub fn perform_list(mut self, perform: Perform) -> Operation {
        self.perform_list = Some(Step::Function(perform));
        self
    }

    /// `performList` as a shorthand request (see [`Operation::perform_request`]).
    pub fn perform_list_request(mut self, request: Request) -> Operation {
        self.perform_list = Some(Step::Request(Box::new(request)));
        self
    }

    /// `performSubscribe`: registers `bundle.targetUrl`; the result becomes `bundle.subscribeData`.
    pub fn perform_subscribe(mut self, perform: Perform) -> Operation {
        self.perform_subscribe = Some(Step::Function(perform));
        self
    }

    /// `performSubscribe` as a shorthand request, e.g. a POST of
    /// `{{bundle.targetUrl}}` (see [`Operation::perform_request`]).
    pub fn perform_subscribe_request(mut self, request: Request) -> Operation {
        self.perform_subscribe = Some(Step::Request(Box::new(request)));
        self
    }

    /// `performUnsubscribe`: removes the subscription in `bundle.subscribeData`.
    pub fn perform_unsubscribe(mut self, perform: Perform) -> Operation {
        self.perform_unsubscribe = Some(Step::Function(perform));
        self
    }

    /// `performUnsubscribe` as a shorthand request, e.g. a DELETE of
    /// `{{bundle.subscribeData.id}}` (see [`Operation::perform_request`]).
    pub fn perform_unsubscribe_request(mut self, request: Request) -> Operation {
        self.perform_unsubscribe = Some(Step::Request(Box::new(request)));
        self
    }

    /// `performResume`: finishes a call that waited for its callback URL.
    pub fn perform_resume(mut self, perform: Perform) -> Operation {
        self.perform_resume = Some(perform);
        self
    }

    /// `performBuffer`: a create's buffered runs in one call.
    pub fn perform_buffer(mut self, perform: Perform) -> Operation {
        self.perform_buffer = Some(perform);
        self
    }

    /// How runs are buffered for performBuffer: grouped by these input fields, at most `limit` a call.
    pub fn buffer(mut self, grouped_by: &[&str], limit: u32) -> Operation {
        let grouped_by = grouped_by.iter().map(|key| key.to_string()).collect();
        self.buffer = Some((grouped_by, limit));
        self
    }

    /// Adds an input field.
    pub fn input_field(mut self, field: Field) -> Operation {
        self.input_fields.push(FieldEntry::Static(Box::new(field)));
        self
    }

    /// Adds dynamic input fields: a function returning an array of fields.
    pub fn input_fields_fn(mut self, fields: Perform) -> Operation {
        self.input_fields.push(FieldEntry::Dynamic(fields));
        self
    }

    /// Adds an output field.
    pub fn output_field(mut self, field: Field) -> Operation {
        self.output_fields.push(FieldEntry::Static(Box::new(field)));
        self
    }

    /// Adds dynamic output fields: a function returning an array of fields.
    pub fn output_fields_fn(mut self, fields: Perform) -> Operation {
        self.output_fields.push(FieldEntry::Dynamic(fields));
        self
    }

    /// A sample result, shown when the user cannot load a live one.
    pub fn sample(mut self, sample: Value) -> Operation {
        self.sample = Some(sample);
        self
    }

    /// Whether results come in pages (`bundle.meta.page`, `paging_token`).
    pub fn can_paginate(mut self, can: bool) -> Operation {
        self.can_paginate = Some(can);
        self
    }

    /// What a method of the operation names (see [`App::method`](super::App::method)).
    fn method(&self, method: OperationMethod<'_>) -> Option<Handler<'_>> {
        let function = |perform: Option<Perform>| perform.map(Handler::Function);
        match method {
            OperationMethod::Named(method_path::PERFORM) => self.perform.as_ref().map(Step::handler),
            OperationMethod::Named(method_path::PERFORM_LIST) => self.perform_list.as_ref().map(Step::handler),
            OperationMethod::Named(method_path::PERFORM_SUBSCRIBE) => {
                self.perform_subscribe.as_ref().map(Step::handler)
            }
            OperationMethod::Named(method_path::PERFORM_UNSUBSCRIBE) => {
                self.perform_unsubscribe.as_ref().map(Step::handler)
            }
            OperationMethod::Named(method_path::PERFORM_RESUME) => function(self.perform_resume),
            OperationMethod::Named(method_path::PERFORM_BUFFER) => function(self.perform_buffer),
            OperationMethod::Named(_) => None,
            OperationMethod::Fields(list, index) => match self.fields(list).get(index)? {
                FieldEntry::Dynamic(fields) => Some(Handler::Function(*fields)),
                FieldEntry::Static(_) => None,
            },
        }
    }

    /// The entries of one of its field lists.
    fn fields(&self, list: FieldList) -> &[FieldEntry] {
        match list {
            FieldList::Input => &self.input_fields,
            FieldList::Output => &self.output_fields,
        }
    }

    /// The operation in the definition, at the method path prefix `path`
    /// (`<kind plural>.<key>.operation`), its functions listed in `walk`.
    fn to_json<'a>(&'a self, path: &str, walk: &mut Walk<'a>) -> Value {
        let mut out = Map::new();
        if let Some(kind) = self.kind {
            out.insert("type".into(), json!(kind));
        }
        let slots = [
            (method_path::PERFORM, &self.perform),
            (method_path::PERFORM_LIST, &self.perform_list),
            (method_path::PERFORM_SUBSCRIBE, &self.perform_subscribe),
            (method_path::PERFORM_UNSUBSCRIBE, &self.perform_unsubscribe),
        ];
        for (name, slot) in slots {
            if let Some(slot) = slot {
                out.insert(name.into(), walk.slot(method_path::child(path, name), slot));
            }
        }
        let functions =
            [(method_path::PERFORM_RESUME, self.perform_resume), (method_path::PERFORM_BUFFER, self.perform_buffer)];
        for (name, perform) in functions {
            if let Some(perform) = perform {
                out.insert(name.into(), walk.function(method_path::child(path, name), perform));
            }
        }
        if let Some((grouped_by, limit)) = &self.buffer {
            out.insert("buffer".into(), json!({ "groupedBy": grouped_by, "limit": limit }));
        }
        for list in [FieldList::Input, FieldList::Output] {
            let entries = self.fields(list);
            if entries.is_empty() {
                continue;
            }
            let fields = entries
                .iter()
                .enumerate()
                .map(|(i, entry)| match entry {
                    FieldEntry::Static(field) => field.to_json(),
                    FieldEntry::Dynamic(fields) => walk.function(method_path::fields_entry(path, list, i), *fields),
                })
                .collect();
            out.insert(list.key().into(), Value::Array(fields));
        }
        if let Some(sample) = &self.sample {
            out.insert("sample".into(), sample.clone());
        }
        if let Some(can) = self.can_paginate {
            out.insert("canPaginate".into(), json!(can));
        }
        Value::Object(out)
    }
}

/// What triggers, searches and creates share: key, noun, display, operation.
#[derive(Debug, Clone)]
pub(super) struct Action {
    /// Unique among its kind; a segment of its method paths (it may hold dots).
    pub(super) key: Text,
    /// `Contact`, `File`, ...
    noun: Text,
    /// `display.label`.
    label: Option<Text>,
    /// `display.description`.
    description: Option<Text>,
    /// `display.hidden`.
    hidden: Option<bool>,
    /// `display.important`.
    important: Option<bool>,
    /// What it does.
    operation: Option<Operation>,
}

impl Action {
    /// An action with this key and noun, nothing else set.
    fn new(key: Text, noun: Text) -> Action {
        Action { key, noun, label: None, description: None, hidden: None, important: None, operation: None }
    }

    /// The action in the definition, its operation at the method path
    /// prefix `operation_path`, its functions listed in `walk`.
    pub(super) fn to_json<'a>(&'a self, operation_path: &str, walk: &mut Walk<'a>) -> Value {
        let mut out = Map::new();
        out.insert("key".into(), json!(self.key));
        out.insert("noun".into(), json!(self.noun));
        let mut display = display_json(self.label.as_ref(), self.description.as_ref(), self.hidden);
        if let Some(important) = self.important {
            display.insert("important".into(), json!(important));
        }
        if !display.is_empty() {
            out.insert("display".into(), Value::Object(display));
        }
        if let Some(operation) = &self.operation {
            out.insert("operation".into(), operation.to_json(operation_path, walk));
        }
        Value::Object(out)
    }
}

/// Defines [`Trigger`], [`Search`] and [`Create`]: the same builder over [`Action`].
macro_rules! action_kind {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub(super) Action);

        impl $name {
            /// One with this key (unique among its kind) and noun (`Contact`, `File`, ...).
            pub fn new(key: impl Into<Text>, noun: impl Into<Text>) -> $name {
                $name(Action::new(key.into(), noun.into()))
            }

            /// The label and description users see.
            pub fn display(mut self, label: impl Into<Text>, description: impl Into<Text>) -> $name {
                self.0.label = Some(label.into());
                self.0.description = Some(description.into());
                self
            }

            /// Hidden from users (used only by dynamic dropdowns or searches).
            pub fn hidden(mut self, hidden: bool) -> $name {
                self.0.hidden = Some(hidden);
                self
            }

            /// Shown first among its kind.
            pub fn important(mut self, important: bool) -> $name {
                self.0.important = Some(important);
                self
            }

            /// What it does.
            pub fn operation(mut self, operation: Operation) -> $name {
                self.0.operation = Some(operation);
                self
            }

            /// Its key.
            pub fn key(&self) -> &str {
                &self.0.key
            }
        }
    };
}

action_kind!(
    /// A trigger: new data, polled (`Operation::polling`) or pushed by a hook (`Operation::hook`).
    Trigger
);
action_kind!(
    /// A search: finds existing data; perform returns an array.
    Search
);
action_kind!(
    /// A create: writes data; perform returns an object.
    Create
);

/// What `<key>.operation.<method>` (`rest`, a path after its kind's
/// plural) names among `actions` (triggers, searches or creates): the last
/// action with that key that has it, as in the walk.
pub(super) fn action_method<'a>(
    actions: impl DoubleEndedIterator<Item = &'a Action>,
    rest: &str,
) -> Option<Handler<'a>> {
    actions.rev().find_map(|action| action.method(rest))
}

impl Action {
    /// What `rest` (a method path after its kind) names in this action, if
    /// it names this action's key.
    pub(super) fn method(&self, rest: &str) -> Option<Handler<'_>> {
        let method = method_path::operation_method(rest, &self.key)?;
        self.operation.as_ref()?.method(method)
    }
}

/// The `display` object of an operation or a search-or-create: the label,
/// description and hidden flag that were set.
pub(super) fn display_json(
    label: Option<&Text>,
    description: Option<&Text>,
    hidden: Option<bool>,
) -> Map<String, Value> {
    let mut display = Map::new();
    if let Some(label) = label {
        display.insert("label".into(), json!(label));
    }
    if let Some(description) = description {
        display.insert("description".into(), json!(description));
    }
    if let Some(hidden) = hidden {
        display.insert("hidden".into(), json!(hidden));
    }
    display
}

#[cfg(test)]
mod tests {
    use crate::Bundle;

    use super::*;
    use crate::app::App;
    use crate::error::ZError;
    use crate::z::Z;

    fn ok(_z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
        Ok(json!({}))
    }

    #[test]
    fn hook_slots_take_shorthand_requests() {
        let subscribe = Request::post("https://api.test/hooks").json(json!({"url": "{{bundle.targetUrl}}"}));
        let app = App::new("1").trigger(
            Trigger::new("hook", "Item")
                .operation(Operation::hook().perform(ok).perform_subscribe_request(subscribe).perform_unsubscribe(ok)),
        );
        let operation = &app.definition()["triggers"]["hook"]["operation"];
        assert_eq!(
            operation["performSubscribe"],
            json!({"url": "https://api.test/hooks", "method": "POST", "json": {"url": "{{bundle.targetUrl}}"}})
        );
        assert_eq!(operation["performUnsubscribe"], json!({"$func": "triggers.hook.operation.performUnsubscribe"}));
        let methods = app.methods();
        let subscribe = methods.iter().find(|(path, _)| path == "triggers.hook.operation.performSubscribe");
        assert!(matches!(subscribe, Some((_, Handler::Shorthand(_)))), "{subscribe:?}");
    }
}
