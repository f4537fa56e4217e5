/// `new_item`: polls `GET /items` (newest first).
fn new_item() -> Trigger {
    Trigger::new("new_item", "Item")
        .display("New Item", "Triggers when an item is added.")
        .operation(item_fields(Operation::polling().perform(list_items)))
}

/// `triggers.new_item.operation.perform`: the newest items.
fn list_items(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let limit = if bundle.meta.limit > 0 { bundle.meta.limit.min(100) } else { 50 };
    let request = Request::get(format!("{}/items", base_url(z))).param("limit", limit);
    items_of(json_body(z.request(request)?)?)
}

/// The items of a `GET /items` answer: `{"items": [...]}`.
fn items_of(mut page: Value) -> Result<Value, ZError> {
    match page.get_mut("items").map(Value::take) {
        Some(items @ Value::Array(_)) => Ok(items),
        _ => Err(ZError::general("The API's item list has no \"items\" array")),
    }
}
