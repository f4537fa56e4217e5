//! A contact as a vCard 3.0 (RFC 2426): what `GET /contacts/{id}/vcard`
//! serves and what an export counts the lines of.

use crate::model::Contact;

/// The vCard of `contact`: CRLF line endings, text values escaped, lines
/// longer than 75 octets folded.
pub(crate) fn render(contact: &Contact) -> String {
    let full_name = match (contact.first_name.trim(), contact.last_name.trim()) {
        ("", "") => contact.email.clone(),
        (first, "") => first.to_string(),
        ("", last) => last.to_string(),
        (first, last) => format!("{first} {last}"),
    };
    let mut lines = vec![
        "BEGIN:VCARD".to_string(),
        "VERSION:3.0".to_string(),
        format!("N:{};{};;;", escape(&contact.last_name), escape(&contact.first_name)),
        format!("FN:{}", escape(&full_name)),
    ];
    if let Some(company) = contact.company.as_deref().filter(|company| !company.is_empty()) {
        lines.push(format!("ORG:{}", escape(company)));
    }
    lines.push(format!("EMAIL;TYPE=INTERNET:{}", escape(&contact.email)));
    lines.push(format!("UID:urn:crm-api:contact:{}", contact.id));
    lines.push(format!("REV:{}", contact.created_at));
    lines.push("END:VCARD".to_string());

    let mut card = String::new();
    for line in &lines {
        fold_into(&mut card, line);
    }
    card
}

/// The `filename` of the vCard's Content-Disposition: `<first>-<last>.vcf`,
/// with characters that do not belong in a quoted header parameter or a file
/// name replaced by `_`, and `contact-<id>.vcf` when the contact has no name.
pub(crate) fn file_name(contact: &Contact) -> String {
    let safe = |part: &str| -> String {
        part.trim().chars().map(|c| if c.is_ascii_alphanumeric() || "-_. ".contains(c) { c } else { '_' }).collect()
    };
    let (first, last) = (safe(&contact.first_name), safe(&contact.last_name));
    match (first.is_empty(), last.is_empty()) {
        (true, true) => format!("contact-{}.vcf", contact.id),
        (false, true) => format!("{first}.vcf"),
        (true, false) => format!("{last}.vcf"),
        (false, false) => format!("{first}-{last}.vcf"),
    }
}

/// RFC 2426 section 4: backslash, comma, semicolon and newlines escaped.
fn escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            ',' => escaped.push_str("\\,"),
            ';' => escaped.push_str("\\;"),
            '\n' => escaped.push_str("\\n"),
            '\r' => {}
            c => escaped.push(c),
        }
    }
    escaped
}

/// Appends `line` with CRLF, folded so no physical line exceeds 75 octets
/// (continuations start with a space), never splitting a UTF-8 character.
fn fold_into(card: &mut String, line: &str) {
    const MAX_OCTETS: usize = 75;
    let mut used = 0;
    for c in line.chars() {
        if used + c.len_utf8() > MAX_OCTETS {
            card.push_str("\r\n ");
            used = 1;
        }
        card.push(c);
        used += c.len_utf8();
    }
    card.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ada() -> Contact {
        Contact {
            id: 7,
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: "ada@example.test".into(),
            company: Some("Engines, Ltd; London".into()),
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn renders_a_vcard_3() {
        let card = render(&ada());
        assert_eq!(
            card,
            "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lovelace;Ada;;;\r\nFN:Ada Lovelace\r\nORG:Engines\\, Ltd\\; London\r\n\
             EMAIL;TYPE=INTERNET:ada@example.test\r\nUID:urn:crm-api:contact:7\r\nREV:2026-01-01T00:00:00Z\r\n\
             END:VCARD\r\n"
        );
    }

    #[test]
    fn folds_long_lines_on_character_boundaries() {
        let mut contact = ada();
        contact.company = Some("é".repeat(60));
        let card = render(&contact);
        for line in card.split("\r\n") {
            assert!(line.len() <= 75, "{line:?}");
        }
        let unfolded = card.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("ORG:{}\r\n", "é".repeat(60))));
    }

    #[test]
    fn file_names_are_safe_in_a_quoted_header() {
        assert_eq!(file_name(&ada()), "Ada-Lovelace.vcf");
        let mut odd = ada();
        odd.first_name = "A\"da\r\n".into();
        odd.last_name = "O/Brien".into();
        assert_eq!(file_name(&odd), "A_da-O_Brien.vcf");
        odd.first_name.clear();
        odd.last_name.clear();
        assert_eq!(file_name(&odd), "contact-7.vcf");
    }
}
