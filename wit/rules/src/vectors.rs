//! The language-neutral test vectors in `wit/rules/vectors/` (see its
//! README.md), run against this crate's rules on any [`Json`] type: this
//! crate's tests run them on `serde_json::Value`, the guest SDK's on its
//! own `Value` (feature `vectors`). Each file reports every case that
//! failed by name.

use std::fmt::Debug;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::json::{Json, JsonMap};

use crate::curly::{self, CurlyInRequest, Place, Renderer};
use crate::dehydrate::{self, Kind, Pointer};
use crate::method_path::{self, MethodPath, OperationMethod};
use crate::url_params::{self, ParamOptions};
use crate::{form, merge, param_encoding};

/// Every vector file, by name, with its text.
pub const FILES: &[(&str, &str)] = &[
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
fn check<I: DeserializeOwned, E: DeserializeOwned + PartialEq + Debug>(
    file: &str,
    rule: impl Fn(&I) -> E,
) -> Result<(), String> {
    check_with(file, rule, |got, expected| got == expected)
}

/// As [`check`] for a file whose objects' key order counts (params keep
/// their order on the wire): the result must be the expected JSON, keys
/// in the same order.
fn check_ordered<I: DeserializeOwned>(file: &str, rule: impl Fn(&I) -> Value) -> Result<(), String> {
    // As text: `Value`'s own equality compares objects as maps.
    let text = |value: &Value| serde_json::to_string(value).ok();
    check_with(file, rule, |got, expected| text(got) == text(expected))
}

/// Runs every case of `file` through `rule`, comparing with `same`.
fn check_with<I: DeserializeOwned, E: DeserializeOwned + Debug>(
    file: &str,
    rule: impl Fn(&I) -> E,
    same: impl Fn(&E, &E) -> bool,
) -> Result<(), String> {
    let (_, text) = FILES.iter().find(|(name, _)| *name == file).ok_or_else(|| format!("{file} is not in FILES"))?;
    let cases: Vec<Case<I, E>> = serde_json::from_str(text).map_err(|error| format!("{file}: {error}"))?;
    if cases.is_empty() {
        return Err(format!("{file} has no cases"));
    }
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let got = rule(&case.input);
            (!same(&got, &case.expected))
                .then(|| format!("{file}: {}:\n  expected {:?}\n  got      {got:?}", case.name, case.expected))
        })
        .collect();
    if failures.is_empty() {
        return Ok(());
    }
    Err(format!("{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n")))
}

/// Runs the vector file `file` on the JSON type `J`: `Err` names every
/// case that failed.
pub fn run<J: Json>(file: &str) -> Result<(), String> {
    match file {
        "param_encoding.json" => param_encoding(),
        "form_encode.json" => form_encode::<J>(),
        "form_decode.json" => form_decode::<J>(),
        "url_with_params.json" => url_with_params::<J>(),
        "query_into_params.json" => query_into_params::<J>(),
        "compose_params.json" => compose_params::<J>(),
        "merge.json" => merge::<J>(),
        "curly_scan.json" => curly_scan(),
        "curly_render.json" => curly_render::<J>(),
        "curly_in_request.json" => curly_in_request::<J>(),
        "method_paths.json" => method_paths::<J>(),
        "method_path_split.json" => method_path_split(),
        "dehydrate.json" => dehydrate::<J>(),
        "hydrate_parse.json" => hydrate_parse(),
        other => Err(format!("no runner for the vector file {other}")),
    }
}

/// `value` as serde_json's, for comparing with a case's expected JSON.
fn plain<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_else(|error| json!({ "unwritable": error.to_string() }))
}

#[cfg(test)]
mod on_serde_json {
    /// One test per file, on `serde_json::Value`.
    macro_rules! files {
        ($($test:ident: $file:literal),* $(,)?) => {$(
            #[test]
            fn $test() {
                if let Err(failures) = super::run::<serde_json::Value>($file) {
                    panic!("{failures}");
                }
            }
        )*};
    }

    files!(
        param_encoding: "param_encoding.json",
        form_encode: "form_encode.json",
        form_decode: "form_decode.json",
        url_with_params: "url_with_params.json",
        query_into_params: "query_into_params.json",
        compose_params: "compose_params.json",
        merge: "merge.json",
        curly_scan: "curly_scan.json",
        curly_render: "curly_render.json",
        curly_in_request: "curly_in_request.json",
        method_paths: "method_paths.json",
        method_path_split: "method_path_split.json",
        dehydrate: "dehydrate.json",
        hydrate_parse: "hydrate_parse.json",
    );
}

#[cfg(test)]
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

fn param_encoding() -> Result<(), String> {
    check("param_encoding.json", |input: &EncodeInput| param_encoding::encode(&input.text, &input.skip_encoding_chars))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
struct FormEncodeInput<J: Json> {
    value: J,
}

fn form_encode<J: Json>() -> Result<(), String> {
    check("form_encode.json", |input: &FormEncodeInput<J>| form::encode(&input.value))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FormDecodeInput {
    text: String,
}

fn form_decode<J: Json>() -> Result<(), String> {
    check("form_decode.json", |input: &FormDecodeInput| plain(&form::decode::<J::Map>(&input.text)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, bound = "")]
struct UrlInput<J: Json> {
    url: String,
    params: J::Map,
    #[serde(default)]
    skip_encoding_chars: String,
    #[serde(default)]
    remove_missing_values_from_params: bool,
}

fn url_with_params<J: Json>() -> Result<(), String> {
    check("url_with_params.json", |input: &UrlInput<J>| {
        let options = ParamOptions {
            skip_encoding_chars: &input.skip_encoding_chars,
            remove_missing: input.remove_missing_values_from_params,
        };
        url_params::url_with_params(&input.url, &url_params::pairs(&input.params), &options)
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
struct QueryInput<J: Json> {
    url: String,
    params: J::Map,
}

fn query_into_params<J: Json>() -> Result<(), String> {
    check_ordered("query_into_params.json", |input: &QueryInput<J>| {
        let (mut url, mut params) = (input.url.clone(), input.params.clone());
        url_params::move_query_into_params(&mut url, &mut params);
        json!({"url": url, "params": plain(&params)})
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
struct ComposeInput<J: Json> {
    #[serde(default)]
    template: Option<QueryInput<J>>,
    url: String,
    params: J::Map,
}

fn compose_params<J: Json>() -> Result<(), String> {
    check_ordered("compose_params.json", |input: &ComposeInput<J>| {
        let (mut url, mut params) = (input.url.clone(), input.params.clone());
        let template = input.template.as_ref().map(|template| (template.url.as_str(), &template.params));
        url_params::compose(template, &mut url, &mut params);
        let sent = url_params::url_with_params(&url, &url_params::pairs(&params), &ParamOptions::default());
        json!({"url": url, "params": plain(&params), "sent": sent})
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
struct MergeInput<J: Json> {
    under: J::Map,
    over: J::Map,
}

fn merge<J: Json>() -> Result<(), String> {
    check_ordered("merge.json", |input: &MergeInput<J>| {
        let mut under = input.under.clone();
        merge::merge(&mut under, input.over.clone());
        plain(&under)
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanInput {
    text: String,
}

fn curly_scan() -> Result<(), String> {
    check("curly_scan.json", |input: &ScanInput| {
        let found = curly::scan(&input.text)
            .map(|curly| json!({"text": curly.text, "expression": curly.expression, "platform": curly.is_platform()}));
        Value::Array(found.collect())
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
struct RenderInput<J: Json> {
    text: String,
    place: String,
    bundle: J,
    env: J::Map,
}

fn curly_render<J: Json>() -> Result<(), String> {
    check("curly_render.json", |input: &RenderInput<J>| {
        let place = match input.place.as_str() {
            "url" => Place::Url,
            "header" => Place::Header,
            "param" => Place::Param,
            "body" => Place::Body,
            other => return json!({ "error": format!("unknown place {other:?}") }),
        };
        let env = |name: &str| input.env.get(name).and_then(Json::as_str).map(str::to_string);
        match Renderer::new(&input.bundle, &env).render(&input.text, place) {
            Ok(value) => json!({ "value": plain(&value) }),
            Err(error) => json!({ "error": error.to_string() }),
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
struct CurlyInRequestInput<J: Json> {
    attribute: String,
    value: J,
}

fn curly_in_request<J: Json>() -> Result<(), String> {
    check("curly_in_request.json", |input: &CurlyInRequestInput<J>| -> Option<String> {
        CurlyInRequest::in_value(&input.attribute, &input.value).map(|found| found.to_string())
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
struct MethodsInput<J: Json> {
    definition: J,
}

fn method_paths<J: Json>() -> Result<(), String> {
    check("method_paths.json", |input: &MethodsInput<J>| method_path::methods(&input.definition))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SplitInput {
    path: String,
    #[serde(default)]
    keys: Vec<String>,
}

fn method_path_split() -> Result<(), String> {
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
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, bound = "")]
struct DehydrateInput<J: Json> {
    #[serde(rename = "type")]
    kind: String,
    method: String,
    input_data: J,
}

fn dehydrate<J: Json>() -> Result<(), String> {
    check("dehydrate.json", |input: &DehydrateInput<J>| {
        let Some(kind) = Kind::parse(&input.kind) else {
            return json!({ "error": format!("unknown type {:?}", input.kind) });
        };
        match dehydrate::dehydrate(kind, &input.method, &input.input_data) {
            Ok(pointer) => json!({ "pointer": pointer }),
            Err(error) => json!({ "error": error.to_string() }),
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HydrateParseInput {
    text: String,
}

fn hydrate_parse() -> Result<(), String> {
    check("hydrate_parse.json", |input: &HydrateParseInput| -> Option<Value> {
        Some(match dehydrate::parse(&input.text)? {
            Pointer::Unsigned(payload) => json!({
                "unsigned": {"type": payload.kind.as_str(), "method": payload.method, "bundle": payload.bundle}
            }),
            Pointer::Signed { payload, signature } => json!({"signed": {"payload": payload, "signature": signature}}),
        })
    })
}
