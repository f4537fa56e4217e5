
    #[test]
    fn new_item_lists_the_newest_items() {
        let api = FakeHttp::new().on("GET", "https://api.test/items", Reply::json(json!({"items": [{"id": 2}]})));
        let items = call(&api).run("triggers.new_item.operation.perform", Bundle::default());
        assert_eq!(items.unwrap(), json!([{"id": 2}]));
        assert_eq!(api.sent()[0].url, "https://api.test/items?limit=50");
    }
