//! z.stashFile: files into the host's [`StashStore`](crate::StashStore),
//! named as the reference platform names them.

use std::sync::atomic::Ordering;

use crate::bindings::WitZError;
use crate::bindings::zapwasm::integration::http::Request;
use crate::bindings::zapwasm::integration::stash::Host;
use crate::capability::http::{self, SendFailure};
use crate::error::{CallError, LimitKind, ZError};
use crate::sandbox::{CallContext, HostAbort, Sandbox};
use crate::state::{ScopeKey, StashedFile};

/// The longest file name kept, in characters.
const MAX_FILENAME_CHARS: usize = 1000;

impl Host for Sandbox {
    async fn stash_bytes(
        &mut self,
        data: Vec<u8>,
        text: bool,
        _known_length: Option<u64>,
        filename: Option<String>,
        content_type: Option<String>,
    ) -> wasmtime::Result<Result<String, WitZError>> {
        let call = self.call.clone();
        let (default_name, default_type) =
            if text { ("unnamedfile.txt", "text/plain") } else { ("unnamedfile", "application/octet-stream") };
        let filename = filename.filter(|f| !f.trim().is_empty()).unwrap_or_else(|| default_name.to_string());
        let content_type = content_type.unwrap_or_else(|| default_type.to_string());
        finish(stash(&call, filename, content_type, data).await)
    }

    async fn stash_request(
        &mut self,
        request: Request,
        filename: Option<String>,
        content_type: Option<String>,
    ) -> wasmtime::Result<Result<String, WitZError>> {
        let call = self.call.clone();
        if let Err(e) = allowed_here(&call) {
            return finish(Err(e.into()));
        }
        let response = match http::send(&call, request).await {
            Ok(response) => response,
            Err(failure) => return finish(Err(failure)),
        };
        if response.status >= 400 {
            return finish(Err(ZError::general(format!(
                "cannot stash {}: the server answered {}",
                call.record.censor().apply(&response.url),
                response.status
            ))
            .into()));
        }
        let header = |name: &str| response.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let content_type = content_type
            .or_else(|| header("content-type").map(|t| t.split(';').next().unwrap_or_default().trim().to_string()))
            .unwrap_or_else(|| "application/octet-stream".into());
        let filename = filename
            .or_else(|| header("content-disposition").and_then(|d| disposition_filename(&d)))
            .or_else(|| last_path_segment(&response.url))
            .map(|name| with_extension(name, &content_type))
            .unwrap_or_else(|| with_extension("unnamedfile".into(), &content_type));
        finish(stash(&call, filename, content_type, response.body).await)
    }
}

fn finish(result: Result<String, SendFailure>) -> wasmtime::Result<Result<String, WitZError>> {
    match result {
        Ok(url) => Ok(Ok(url)),
        Err(SendFailure::Z(e)) => Ok(Err(e.into())),
        Err(SendFailure::Abort(e)) => Err(wasmtime::Error::new(HostAbort(e))),
    }
}

fn allowed_here(call: &CallContext) -> Result<(), ZError> {
    if call.method.starts_with("creates.") || call.method.starts_with("hydrators.") {
        Ok(())
    } else {
        Err(ZError::general("Files can only be stashed within a create or hydration function/method."))
    }
}

async fn stash(
    call: &CallContext,
    filename: String,
    content_type: String,
    bytes: Vec<u8>,
) -> Result<String, SendFailure> {
    allowed_here(call)?;
    let total = call.counters.stashed_bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed) + bytes.len() as u64;
    if total > call.limits.stash_bytes {
        return Err(SendFailure::Abort(CallError::Limit {
            limit: LimitKind::Stash,
            value: format!("{} bytes", call.limits.stash_bytes),
        }));
    }
    let file = StashedFile { filename: safe_filename(&filename), content_type, bytes };
    call.services
        .stores
        .stash
        .put(&ScopeKey::of(&call.scope), file)
        .await
        .map_err(|e| ZError::general(format!("stashing failed: {e}")).into())
}

/// A name that is one path component, no longer than the platform allows.
fn safe_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(MAX_FILENAME_CHARS).collect();
    match cleaned.trim() {
        "" | "." | ".." => "unnamedfile".into(),
        name => name.to_string(),
    }
}

/// `attachment; filename="report.pdf"` -> `report.pdf` (also `filename*=UTF-8''...`).
fn disposition_filename(disposition: &str) -> Option<String> {
    for part in disposition.split(';').map(str::trim) {
        if let Some(v) = part.strip_prefix("filename*=") {
            let encoded = v.rsplit("''").next().unwrap_or(v);
            return percent_encoding::percent_decode_str(encoded.trim_matches('"'))
                .decode_utf8()
                .ok()
                .map(|s| s.into_owned());
        }
    }
    disposition
        .split(';')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("filename="))
        .map(|v| v.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

fn last_path_segment(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let segment = url.path_segments()?.rev().find(|s| !s.is_empty())?;
    percent_encoding::percent_decode_str(segment).decode_utf8().ok().map(|s| s.into_owned())
}

/// Add the extension the content type implies, when the name has none.
fn with_extension(name: String, content_type: &str) -> String {
    if name.contains('.') {
        return name;
    }
    let ext = match content_type {
        "text/plain" => "txt",
        "text/csv" => "csv",
        "text/html" => "html",
        "text/vcard" | "text/x-vcard" => "vcf",
        "application/json" => "json",
        "application/pdf" => "pdf",
        "application/zip" => "zip",
        "application/xml" | "text/xml" => "xml",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        _ => return name,
    };
    format!("{name}.{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_files_like_the_reference_platform() {
        assert_eq!(disposition_filename(r#"attachment; filename="ann-lee.vcf""#).as_deref(), Some("ann-lee.vcf"));
        assert_eq!(
            disposition_filename("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf").as_deref(),
            Some("résumé.pdf")
        );
        assert_eq!(last_path_segment("https://x.test/files/report?x=1").as_deref(), Some("report"));
        assert_eq!(with_extension("report".into(), "application/pdf"), "report.pdf");
        assert_eq!(safe_filename("../../etc/passwd"), "passwd");
        assert_eq!(safe_filename(".."), "unnamedfile");
    }
}
