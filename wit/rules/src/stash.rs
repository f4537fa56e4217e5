//! How a stashed file is named and typed (`z.stashFile`), decided alike by
//! the host and by the guest SDK's native tests: the author's name and type
//! when given; for bytes the defaults of their kind; for a request's
//! response its Content-Disposition, else its URL's last path segment,
//! with the extension its content type implies.

use percent_encoding::percent_decode_str;

/// The name and type of a file of bytes (`text`: the author passed text).
///
/// ```
/// use zapwasm_rules::stash::bytes_file;
///
/// assert_eq!(bytes_file(true, None, None), ("unnamedfile.txt".into(), "text/plain".into()));
/// assert_eq!(bytes_file(false, Some(" "), None), ("unnamedfile".into(), "application/octet-stream".into()));
/// assert_eq!(bytes_file(false, Some("a.bin"), Some("x/y")), ("a.bin".into(), "x/y".into()));
/// ```
pub fn bytes_file(text: bool, filename: Option<&str>, content_type: Option<&str>) -> (String, String) {
    let (default_name, default_type) =
        if text { ("unnamedfile.txt", "text/plain") } else { ("unnamedfile", "application/octet-stream") };
    let filename = filename.filter(|f| !f.trim().is_empty()).unwrap_or(default_name);
    (filename.to_string(), content_type.unwrap_or(default_type).to_string())
}

/// The name and type of a file fetched from `url`, whose response had these
/// `Content-Disposition` and `Content-Type` headers. The author's name is
/// kept as given; a name derived here gets the extension its content type
/// implies, as on the platform.
///
/// ```
/// use zapwasm_rules::stash::response_file;
///
/// let named = response_file(None, None, Some("attachment; filename=\"r.pdf\""), None, "https://x.test/f");
/// assert_eq!(named, ("r.pdf".into(), "application/octet-stream".into()));
/// let derived = response_file(None, None, None, Some("application/pdf; q=1"), "https://x.test/files/report?x=1");
/// assert_eq!(derived, ("report.pdf".into(), "application/pdf".into()));
/// ```
pub fn response_file(
    filename: Option<&str>,
    content_type: Option<&str>,
    disposition: Option<&str>,
    response_type: Option<&str>,
    url: &str,
) -> (String, String) {
    let content_type = content_type
        .map(str::to_string)
        .or_else(|| response_type.map(|t| t.split(';').next().unwrap_or_default().trim().to_string()))
        .unwrap_or_else(|| "application/octet-stream".into());
    let filename = match filename.filter(|f| !f.trim().is_empty()) {
        Some(given) => given.to_string(),
        None => {
            let derived = disposition
                .and_then(disposition_filename)
                .or_else(|| last_path_segment(url))
                .unwrap_or_else(|| "unnamedfile".into());
            with_extension(derived, &content_type)
        }
    };
    (filename, content_type)
}

/// `attachment; filename="report.pdf"` -> `report.pdf` (also `filename*=UTF-8''...`).
pub fn disposition_filename(disposition: &str) -> Option<String> {
    for part in disposition.split(';').map(str::trim) {
        if let Some(v) = part.strip_prefix("filename*=") {
            let encoded = v.rsplit("''").next().unwrap_or(v);
            return percent_decode_str(encoded.trim_matches('"')).decode_utf8().ok().map(|s| s.into_owned());
        }
    }
    disposition
        .split(';')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("filename="))
        .map(|v| v.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// The last non-empty segment of a URL's path, percent-decoded.
pub fn last_path_segment(url: &str) -> Option<String> {
    let (_scheme, rest) = url.split_once("://")?;
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (_authority, path) = rest.split_once('/')?;
    let segment = path.rsplit('/').find(|s| !s.is_empty())?;
    percent_decode_str(segment).decode_utf8().ok().map(|s| s.into_owned())
}

/// Add the extension the content type implies, when the name has none.
pub fn with_extension(name: String, content_type: &str) -> String {
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
    fn a_url_without_a_path_names_nothing_and_a_named_file_keeps_its_name() {
        assert_eq!(last_path_segment("https://x.test/files/r%C3%A9/#top").as_deref(), Some("ré"));
        assert_eq!(last_path_segment("https://x.test?path=/a"), None);
        assert_eq!(last_path_segment("https://x.test/"), None);
        assert_eq!(with_extension("report.v2".into(), "application/pdf"), "report.v2");
    }
}
