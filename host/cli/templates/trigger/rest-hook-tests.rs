
    #[test]
    fn new_item_subscribes_its_target_url_and_reads_deliveries() {
        let api = FakeHttp::new().on("POST", "https://api.test/hooks", Reply::json(json!({"id": 4})));
        let mut bundle = Bundle::default();
        bundle.target_url = Some("https://hooks.test/1".into());
        let subscribed = call(&api).run("triggers.new_item.operation.performSubscribe", bundle);
        assert_eq!(subscribed.unwrap(), json!({"id": 4}));
        assert_eq!(api.sent()[0].json().unwrap()["url"], "https://hooks.test/1");
        let mut delivery = Bundle::default();
        delivery.cleaned_request = Some(json!({"item": {"id": 9}}));
        let items = call(&api).run("triggers.new_item.operation.perform", delivery);
        assert_eq!(items.unwrap(), json!([{"id": 9}]));
    }
