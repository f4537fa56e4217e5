//! An integration with deliberate mistakes, one per definition check, for
//! `zapwasm validate` (tests/all/validate.rs). Each mistake says which
//! check it trips; the app still loads and runs.

use zapwasm_guest::prelude::*;

fn items(_z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
    Ok(json!([{"id": 1}]))
}

fn item(_z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
    Ok(json!({"id": 1}))
}

fn fields(_z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
    Ok(json!([{"key": "extra"}]))
}

fn app() -> App {
    // schema.version: not MAJOR.MINOR.PATCH.
    App::new("1.0")
        .authentication(
            Authentication::new(AuthType::Custom)
                // D002: a secret without a link to where it is found.
                .field(Field::new("api_key").label("API Key").required(true).kind("password"))
                // D026: the user picks the host requests go to.
                .field(Field::new("subdomain").label("Subdomain").required(true))
                .test(item),
            // D003: no connection label.
        )
        .trigger(
            // schema.key: a dash. D018: not title case. D021: wrong description.
            Trigger::new("new-item", "Item").display("new item", "Fires for every new item.").operation(
                Operation::polling()
                    .perform(items)
                    // D010: no `id`; D023: not ISO 8601; D024: `count` is text.
                    .output_field(Field::new("count").kind("integer"))
                    .sample(json!({"item_id": 1, "count": "3", "created": "01 Aug 2023"})),
            ),
        )
        .trigger(
            // D006: no performList; D017: no subscribe or unsubscribe.
            Trigger::new("item_hook", "Item")
                .display("New Item (Instant)", "Triggers when an item is added.")
                .operation(Operation::hook().perform(items).sample(json!({"id": 1}))),
        )
        .search(
            // D009: nothing to search by. D008: a bare URL.
            Search::new("find_item", "Item")
                .display("Find Item", "Finds an item, see https://example.com/docs.")
                .operation(Operation::new().perform(items).sample(json!({"id": 1}))),
        )
        // D015: the search-or-create's create does not exist.
        .search_or_create(SearchOrCreate::new("find_item", "find_item", "add_item"))
        .create(
            // D012: no sample. D022: only dynamic input fields.
            Create::new("bare_item", "Item")
                .display("Add Bare Item", "Adds an item with only dynamic fields.")
                .operation(Operation::new().perform(item).input_fields_fn(fields)),
        )
        .create(
            Create::new("update_item", "Item").display("Update Item", "Updates an item.").operation(
                Operation::new()
                    .perform_request(
                        // schema.request-method, and D007: plain http.
                        Request::new("FETCH", "http://api.example.com/items"),
                    )
                    // schema.field-type; D005: no such trigger.
                    .input_field(Field::new("item_id").label("Item").kind("strng").dynamic("missing_trigger.id.name"))
                    // D013: no such search; D014: no dropdown beside it.
                    .input_field(Field::new("owner").label("Owner").search("no_search.id"))
                    // D001: a credential asked per action.
                    .input_field(Field::new("api_key").label("Key"))
                    // D004: an ID to paste.
                    .input_field(Field::new("list_id").label("List"))
                    // D011: help text repeating the label; D025: a script link.
                    .input_field(Field::new("note").label("Note").help_text("note"))
                    .input_field(Field::new("link").label("Link").help_text("See [docs](javascript:alert(1))."))
                    // schema.unique-field-keys; schema.field-exclusive (dynamic with choices).
                    .input_field(Field::new("note").label("Again").dynamic("new-item.id").choices(json!(["a"])))
                    .sample(json!({"id": 1})),
            ),
        )
}

zapwasm_guest::export_app!(app);
