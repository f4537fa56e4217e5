/// `new_item`: the API POSTs each new item to a hook the trigger subscribes.
fn new_item() -> Trigger {
    Trigger::new("new_item", "Item").display("New Item", "Triggers when an item is added, instantly.").operation(
        item_fields(
            Operation::hook()
                .perform(item_from_hook)
                .perform_list(recent_items)
                .perform_subscribe(subscribe)
                .perform_unsubscribe(unsubscribe),
        ),
    )
}

/// `triggers.new_item.operation.perform`: the item of a delivery (`{"item": {...}}`).
fn item_from_hook(_z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let item = bundle.cleaned_request.as_ref().and_then(|payload| payload.get("item")).filter(|i| i.is_object());
    Ok(item.map_or_else(|| json!([]), |item| json!([item])))
}

/// `triggers.new_item.operation.performList`: a few recent items, shaped
/// like deliveries, so users can test without adding one.
fn recent_items(z: &Z, _bundle: &Bundle) -> Result<Value, ZError> {
    let mut page = json_body(z.request(Request::get(format!("{}/items", base_url(z))).param("limit", 3))?)?;
    match page.get_mut("items").map(Value::take) {
        Some(items @ Value::Array(_)) => Ok(items),
        _ => Err(ZError::general("The API's item list has no \"items\" array")),
    }
}

/// `triggers.new_item.operation.performSubscribe`: registers
/// `bundle.targetUrl`; the answer (`{"id": ...}`) becomes `subscribeData`.
fn subscribe(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let target = bundle.target_url.as_deref().ok_or_else(|| ZError::general("No target URL to subscribe"))?;
    let body = json!({"url": target, "event": "item.created"});
    json_body(z.request(Request::post(format!("{}/hooks", base_url(z))).json(body))?)
}

/// `triggers.new_item.operation.performUnsubscribe`: deletes the hook.
fn unsubscribe(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
    let id = bundle.subscribe_data.as_ref().and_then(|data| data.get("id")).cloned().unwrap_or(Value::Null);
    let id = match &id {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => return Err(ZError::general("The subscription has no hook id")),
    };
    z.request(Request::delete(format!("{}/hooks/{id}", base_url(z))))?;
    Ok(json!({"deleted": id}))
}
