//! Input and output fields: [`Field`], as the definition writes them.

use crate::{Value, json};
use serde::Serialize;

use super::Text;

/// An input or output field.
///
/// ```
/// use zapwasm_guest::{Field, json};
///
/// let field = Field::new("email").label("Email").required(true).kind("string");
/// assert_eq!(
///     zapwasm_guest::to_value(&field).unwrap(),
///     json!({"key": "email", "label": "Email", "required": true, "type": "string"})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    key: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    required: Option<bool>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_text: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    default: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    choices: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    list: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dynamic: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    search: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    computed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    placeholder: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alters_dynamic_fields: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    children: Option<Vec<Field>>,
}

impl Field {
    /// A field with this key (`^[a-zA-Z]+[a-zA-Z0-9_]*$` by convention).
    pub fn new(key: impl Into<Text>) -> Field {
        Field {
            key: key.into(),
            label: None,
            required: None,
            kind: None,
            help_text: None,
            default: None,
            choices: None,
            list: None,
            dynamic: None,
            search: None,
            primary: None,
            computed: None,
            placeholder: None,
            alters_dynamic_fields: None,
            children: None,
        }
    }

    /// The label users see.
    pub fn label(mut self, label: impl Into<Text>) -> Field {
        self.label = Some(label.into());
        self
    }

    /// Whether the user must fill it in.
    pub fn required(mut self, required: bool) -> Field {
        self.required = Some(required);
        self
    }

    /// The type: `string`, `text`, `integer`, `number`, `boolean`, `datetime`,
    /// `file`, `password`, `copy`, `code` or `json`.
    pub fn kind(mut self, kind: impl Into<Text>) -> Field {
        self.kind = Some(kind.into());
        self
    }

    /// Help shown under the field (Markdown).
    pub fn help_text(mut self, help: impl Into<Text>) -> Field {
        self.help_text = Some(help.into());
        self
    }

    /// The value used when the user gives none.
    pub fn default(mut self, default: impl Into<Text>) -> Field {
        self.default = Some(default.into());
        self
    }

    /// A static dropdown: an object `{value: label}`, an array of values, or
    /// an array of `{value, sample, label}`.
    pub fn choices(mut self, choices: Value) -> Field {
        self.choices = Some(choices);
        self
    }

    /// Whether the field takes several values.
    pub fn list(mut self, list: bool) -> Field {
        self.list = Some(list);
        self
    }

    /// A dynamic dropdown filled by a trigger: `trigger_key.id_field.label_field`.
    pub fn dynamic(mut self, dynamic: impl Into<Text>) -> Field {
        self.dynamic = Some(dynamic.into());
        self
    }

    /// A search that can fill the field: `search_key.id_field`.
    pub fn search(mut self, search: impl Into<Text>) -> Field {
        self.search = Some(search.into());
        self
    }

    /// Whether the (output) field is part of the primary key used for dedupe.
    pub fn primary(mut self, primary: bool) -> Field {
        self.primary = Some(primary);
        self
    }

    /// Whether the (auth) field is computed rather than filled in by the user.
    pub fn computed(mut self, computed: bool) -> Field {
        self.computed = Some(computed);
        self
    }

    /// Placeholder text.
    pub fn placeholder(mut self, placeholder: impl Into<Text>) -> Field {
        self.placeholder = Some(placeholder.into());
        self
    }

    /// Whether changing this field reloads the dynamic fields.
    pub fn alters_dynamic_fields(mut self, alters: bool) -> Field {
        self.alters_dynamic_fields = Some(alters);
        self
    }

    /// Line items: the field's value is a list of objects, each with these
    /// fields (`children`), e.g. an invoice's lines of description,
    /// quantity and price.
    ///
    /// ```
    /// use zapwasm_guest::{Field, json};
    ///
    /// let lines = Field::new("line_items").label("Line Items").children(vec![
    ///     Field::new("description").required(true),
    ///     Field::new("quantity").kind("integer"),
    /// ]);
    /// assert_eq!(
    ///     zapwasm_guest::to_value(&lines).unwrap(),
    ///     json!({"key": "line_items", "label": "Line Items", "children": [
    ///         {"key": "description", "required": true},
    ///         {"key": "quantity", "type": "integer"}
    ///     ]})
    /// );
    /// ```
    pub fn children(mut self, children: Vec<Field>) -> Field {
        self.children = Some(children);
        self
    }
}

impl Field {
    /// The field as the definition writes it: only what was set.
    pub(super) fn to_json(&self) -> Value {
        crate::to_value(self).unwrap_or_else(|_| json!({}))
    }
}

/// Fields as the definition writes them: an array of field objects.
pub(super) fn fields_json(fields: &[Field]) -> Value {
    Value::Array(fields.iter().map(Field::to_json).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_emit_only_what_was_set() {
        let field = Field::new("k")
            .help_text("h")
            .default("d")
            .choices(json!(["a"]))
            .list(true)
            .search("find.id")
            .computed(false)
            .placeholder("p")
            .alters_dynamic_fields(true);
        assert_eq!(
            crate::to_value(&field).unwrap(),
            json!({"key": "k", "helpText": "h", "default": "d", "choices": ["a"], "list": true,
                   "search": "find.id", "computed": false, "placeholder": "p", "altersDynamicFields": true})
        );
    }
}
