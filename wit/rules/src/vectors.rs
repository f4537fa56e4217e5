//! Runs every language-neutral test vector in `wit/rules/vectors/` (see
//! its README.md) against this crate's rules: one test per file, each
//! reporting every case that failed by name.

use std::fmt::Debug;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::curly::{self, CurlyInRequest, Place, Renderer};
use crate::dehydrate::{self, Kind, Pointer};
use crate::method_path::{self, MethodPath, OperationMethod};
use crate::url_params::{self, ParamOptions};
use crate::{form, merge, param_encoding};

/// Every vector file, by name, with its text.
const FILES: &[(&str, &str)] = &[
    ("param_encoding.json", include_str!("../vectors/param_encoding.json")),
    ("form_encode.json", include_str!("../vectors/form_encode.json")),
    ("form_decode.json", include_str!("../vectors/form_decode.json")),
    ("url_with_params.json", include_str!("../vectors/url_with_params.json")),
    ("query_into_params.json", include_str!("../vectors/query_into_params.json")),
    ("compose_params.json", include_str!("../vectors/compose_params.json")),
    ("merge.json", include_str!("../vectors/merge.json")),
    ("curly_scan.json", include_str!("../vectors/curly_scan.json")),
    ("curly_render.json", include_str!("../vectors/curly_render.json")),
    ("curly_in_request.json", include_str!("../vectors/curly_in_request.json")),
    ("method_paths.json", include_str!("../vectors/method_paths.json")),
    ("method_path_split.json", include_str!("../vectors/method_path_split.json")),
    ("dehydrate.json", include_str!("../vectors/dehydrate.json")),
    ("hydrate_parse.json", include_str!("../vectors/hydrate_parse.json")),
];

/// One vector: what goes in, what must come out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case<I, E> {
    name: String,
    input: I,
    expected: E,
}

/// Runs every case of `file` through `rule`; fails naming each case whose
/// result is not the expected one. Objects compare as maps: their key
/// order does not count (see [`check_ordered`]).
fn check<I: DeserializeOwned, E: DeserializeOwned + PartialEq + Debug>(file: &str, rule: impl Fn(&I) -> E) {
    check_with(file, rule, |got, expected| got == expected);
}

/// As [`check`] for a file whose objects' key order counts (params keep
/// their order on the wire): the result must be the expected JSON, keys
/// in the same order.
fn check_ordered<I: DeserializeOwned>(file: &str, rule: impl Fn(&I) -> Value) {
    // As text: `Value`'s own equality compares objects as maps.
    let text = |value: &Value| serde_json::to_string(value).ok();
    check_with(file, rule, |got, expected| text(got) == text(expected));
}

/// Runs every case of `file` through `rule`, comparing with `same`.
fn check_with<I: DeserializeOwned, E: DeserializeOwned + Debug>(
    file: &str,
    rule: impl Fn(&I) -> E,
    same: impl Fn(&E, &E) -> bool,
) {
    let (_, text) = FILES.iter().find(|(name, _)| *name == file).unwrap_or_else(|| panic!("{file} is not in FILES"));
    let cases: Vec<Case<I, E>> = serde_json::from_str(text).unwrap_or_else(|error| panic!("{file}: {error}"));
    assert!(!cases.is_empty(), "{file} has no cases");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let got = rule(&case.input);
            (!same(&got, &case.expected))
                .then(|| format!("{file}: {}:\n  expected {:?}\n  got      {got:?}", case.name, case.expected))
        })
        .collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn every_vector_file_is_run() {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors");
    let mut on_disk: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut run: Vec<String> = FILES.iter().map(|(name, _)| name.to_string()).collect();
    run.sort();
    assert_eq!(on_disk, run, "every file in {folder} must be listed in FILES and tested");
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EncodeInput {
    text: String,
    skip_encoding_chars: String,
}

#[test]
fn param_encoding() {
    check("param_encoding.json", |input: &EncodeInput| param_encoding::encode(&input.text, &input.skip_encoding_chars));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FormEncodeInput {
    value: Value,
}

#[test]
fn form_encode() {
    check("form_encode.json", |input: &FormEncodeInput| form::encode(&input.value));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FormDecodeInput {
    text: String,
}

#[test]
fn form_decode() {
    check("form_decode.json", |input: &FormDecodeInput| Value::Object(form::decode(&input.text)));
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UrlInput {
    url: String,
    params: Map<String, Value>,
    #[serde(default)]
    skip_encoding_chars: String,
    #[serde(default)]
    remove_missing_values_from_params: bool,
}

#[test]
fn url_with_params() {
    check("url_with_params.json", |input: &UrlInput| {
        let options = ParamOptions {
            skip_encoding_chars: &input.skip_encoding_chars,
            remove_missing: input.remove_missing_values_from_params,
        };
        url_params::url_with_params(&input.url, &url_params::pairs(&input.params), &options)
    });
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryInput {
    url: String,
    params: Map<String, Value>,
}

#[test]
fn query_into_params() {
    check_ordered("query_into_params.json", |input: &QueryInput| {
        let (mut url, mut params) = (input.url.clone(), input.params.clone());
        url_params::move_query_into_params(&mut url, &mut params);
        json!({"url": url, "params": params})
    });
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComposeInput {
    #[serde(default)]
    template: Option<QueryInput>,
    url: String,
    params: Map<String, Value>,
}

#[test]
fn compose_params() {
    check_ordered("compose_params.json", |input: &ComposeInput| {
        let (mut url, mut params) = (input.url.clone(), input.params.clone());
        let template = input.template.as_ref().map(|template| (template.url.as_str(), &template.params));
        url_params::compose(template, &mut url, &mut params);
        let sent = url_params::url_with_params(&url, &url_params::pairs(&params), &ParamOptions::default());
        json!({"url": url, "params": params, "sent": sent})
    });
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeInput {
    under: Map<String, Value>,
    over: Map<String, Value>,
}

#[test]
fn merge() {
    check_ordered("merge.json", |input: &MergeInput| {
        let mut under = input.under.clone();
        merge::merge(&mut under, input.over.clone());
        Value::Object(under)
    });
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanInput {
    text: String,
}

#[test]
fn curly_scan() {
    check("curly_scan.json", |input: &ScanInput| {
        let found = curly::scan(&input.text)
            .map(|curly| json!({"text": curly.text, "expression": curly.expression, "platform": curly.is_platform()}));
        Value::Array(found.collect())
    });
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenderInput {
    text: String,
    place: String,
    bundle: Value,
    env: Map<String, Value>,
}

#[test]
fn curly_render() {
    check("curly_render.json", |input: &RenderInput| {
        let place = match input.place.as_str() {
            "url" => Place::Url,
            "header" => Place::Header,
            "param" => Place::Param,
            "body" => Place::Body,
            other => panic!("unknown place {other:?}"),
        };
        let env = |name: &str| input.env.get(name).and_then(Value::as_str).map(str::to_string);
        match Renderer::new(&input.bundle, &env).render(&input.text, place) {
            Ok(value) => json!({ "value": value }),
            Err(error) => json!({ "error": error.to_string() }),
        }
    });
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CurlyInRequestInput {
    attribute: String,
    value: Value,
}

#[test]
fn curly_in_request() {
    check("curly_in_request.json", |input: &CurlyInRequestInput| -> Option<String> {
        CurlyInRequest::in_value(&input.attribute, &input.value).map(|found| found.to_string())
    });
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MethodsInput {
    definition: Value,
}

#[test]
fn method_paths() {
    check("method_paths.json", |input: &MethodsInput| method_path::methods(&input.definition));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SplitInput {
    path: String,
    #[serde(default)]
    keys: Vec<String>,
}

#[test]
fn method_path_split() {
    check("method_path_split.json", |input: &SplitInput| -> Option<Value> {
        Some(match MethodPath::split(&input.path)? {
            MethodPath::Authentication => json!({"section": "authentication"}),
            MethodPath::Middleware(kind, index) => json!({"section": kind.key(), "index": index}),
            MethodPath::Hydrator(name) => json!({"section": "hydrators", "name": name}),
            MethodPath::Operation(kind, rest) => {
                let (key, method) =
                    input.keys.iter().find_map(|key| Some((key, method_path::operation_method(rest, key)?)))?;
                match method {
                    OperationMethod::Named(method) => json!({"section": kind.plural(), "key": key, "method": method}),
                    OperationMethod::Fields(list, index) => {
                        json!({"section": kind.plural(), "key": key, "fields": list.key(), "index": index})
                    }
                }
            }
        })
    });
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DehydrateInput {
    #[serde(rename = "type")]
    kind: String,
    method: String,
    input_data: Value,
}

#[test]
fn dehydrate() {
    check("dehydrate.json", |input: &DehydrateInput| {
        let kind = Kind::parse(&input.kind).unwrap_or_else(|| panic!("unknown type {:?}", input.kind));
        match dehydrate::dehydrate(kind, &input.method, &input.input_data) {
            Ok(pointer) => json!({ "pointer": pointer }),
            Err(error) => json!({ "error": error.to_string() }),
        }
    });
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HydrateParseInput {
    text: String,
}

#[test]
fn hydrate_parse() {
    check("hydrate_parse.json", |input: &HydrateParseInput| -> Option<Value> {
        Some(match dehydrate::parse(&input.text)? {
            Pointer::Unsigned(payload) => json!({
                "unsigned": {"type": payload.kind.as_str(), "method": payload.method, "bundle": payload.bundle}
            }),
            Pointer::Signed { payload, signature } => json!({"signed": {"payload": payload, "signature": signature}}),
        })
    });
}
