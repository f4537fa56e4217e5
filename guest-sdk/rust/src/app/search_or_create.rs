//! [`SearchOrCreate`]: a search paired with a create, as the definition's
//! `searchOrCreates` writes it. The platform runs the search and, when it
//! finds nothing, the create with the same input (and, with `update`, an
//! update of what the search found). It names operations by key and holds
//! no functions, so it adds no method paths.

use crate::{Map, Value, json};

use super::Text;

/// A search-or-create: the search `search` and, when it finds nothing, the
/// create `create`. Its key is the search's (the platform finds the pair by
/// the search's key).
///
/// ```
/// use zapwasm_guest::prelude::*;
///
/// let pair = SearchOrCreate::new("find_customer", "find_customer", "create_customer")
///     .display("Find or Create Customer", "Finds a customer by email, or creates one.");
/// let app = App::new("1.0.0").search_or_create(pair);
/// assert_eq!(
///     app.definition()["searchOrCreates"]["find_customer"],
///     json!({
///         "key": "find_customer",
///         "display": {"label": "Find or Create Customer", "description": "Finds a customer by email, or creates one."},
///         "search": "find_customer",
///         "create": "create_customer"
///     })
/// );
/// ```
#[derive(Debug, Clone)]
pub struct SearchOrCreate {
    key: Text,
    label: Option<Text>,
    description: Option<Text>,
    hidden: Option<bool>,
    search: Text,
    create: Text,
    update: Option<Text>,
    update_input_from_search_output: Map<String, Value>,
    search_unique_input_to_output_constraint: Map<String, Value>,
}

impl SearchOrCreate {
    /// One with this key (the search's key), pairing the search `search`
    /// with the create `create`, both keys of this app.
    pub fn new(key: impl Into<Text>, search: impl Into<Text>, create: impl Into<Text>) -> SearchOrCreate {
        SearchOrCreate {
            key: key.into(),
            label: None,
            description: None,
            hidden: None,
            search: search.into(),
            create: create.into(),
            update: None,
            update_input_from_search_output: Map::new(),
            search_unique_input_to_output_constraint: Map::new(),
        }
    }

    /// The label and description users see.
    pub fn display(mut self, label: impl Into<Text>, description: impl Into<Text>) -> SearchOrCreate {
        self.label = Some(label.into());
        self.description = Some(description.into());
        self
    }

    /// Hidden from users.
    pub fn hidden(mut self, hidden: bool) -> SearchOrCreate {
        self.hidden = Some(hidden);
        self
    }

    /// A create (a key of this app) that updates what the search found.
    pub fn update(mut self, create: impl Into<Text>) -> SearchOrCreate {
        self.update = Some(create.into());
        self
    }

    /// The update's input field `input` takes the search result's field
    /// `output` (`updateInputFromSearchOutput`).
    pub fn update_input_from_search_output(mut self, input: &str, output: &str) -> SearchOrCreate {
        self.update_input_from_search_output.insert(input.into(), json!(output));
        self
    }

    /// The search's input field `input` must equal the result's field
    /// `output` for the result to count as found
    /// (`searchUniqueInputToOutputConstraint`).
    pub fn search_unique_input_to_output(mut self, input: &str, output: &str) -> SearchOrCreate {
        self.search_unique_input_to_output_constraint.insert(input.into(), json!(output));
        self
    }

    /// Its key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The entry in the definition's `searchOrCreates`.
    pub(super) fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("key".into(), json!(self.key));
        let display = super::operations::display_json(self.label.as_ref(), self.description.as_ref(), self.hidden);
        if !display.is_empty() {
            out.insert("display".into(), Value::Object(display));
        }
        out.insert("search".into(), json!(self.search));
        out.insert("create".into(), json!(self.create));
        if let Some(update) = &self.update {
            out.insert("update".into(), json!(update));
        }
        if !self.update_input_from_search_output.is_empty() {
            out.insert(
                "updateInputFromSearchOutput".into(),
                Value::Object(self.update_input_from_search_output.clone()),
            );
        }
        if !self.search_unique_input_to_output_constraint.is_empty() {
            out.insert(
                "searchUniqueInputToOutputConstraint".into(),
                Value::Object(self.search_unique_input_to_output_constraint.clone()),
            );
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::App;

    #[test]
    fn every_part_is_written_and_the_last_pair_with_a_key_wins() {
        let app = App::new("1")
            .search_or_create(SearchOrCreate::new("find_item", "find_item", "old_create"))
            .search_or_create(
                SearchOrCreate::new("find_item", "find_item", "add_item")
                    .display("Find or Add Item", "Finds an item, or adds one.")
                    .hidden(false)
                    .update("update_item")
                    .update_input_from_search_output("item_id", "id")
                    .search_unique_input_to_output("sku", "sku"),
            );
        assert_eq!(
            app.definition()["searchOrCreates"],
            json!({"find_item": {
                "key": "find_item",
                "display": {"label": "Find or Add Item", "description": "Finds an item, or adds one.", "hidden": false},
                "search": "find_item",
                "create": "add_item",
                "update": "update_item",
                "updateInputFromSearchOutput": {"item_id": "id"},
                "searchUniqueInputToOutputConstraint": {"sku": "sku"}
            }})
        );
        assert!(app.methods().iter().all(|(path, _)| !path.starts_with("searchOrCreates")));
    }

    #[test]
    fn an_app_without_one_has_no_search_or_creates() {
        assert!(App::new("1").definition().get("searchOrCreates").is_none());
    }
}
