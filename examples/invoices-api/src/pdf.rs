//! A one-page PDF of an invoice: its number, customer, lines and total, in
//! Helvetica, with a correct cross-reference table.

use crate::{Customer, Invoice};

/// The PDF of `invoice`, billed to `customer`.
pub(crate) fn invoice_pdf(invoice: &Invoice, customer: Option<&Customer>) -> Vec<u8> {
    let mut lines = vec![format!("Invoice {}", invoice.number)];
    if let Some(customer) = customer {
        lines.push(format!("Bill to: {} <{}>", customer.name, customer.email));
    }
    for item in &invoice.line_items {
        lines.push(format!("{} x {}  {}", item.quantity, item.description, money(item.amount, &invoice.currency)));
    }
    lines.push(format!("Total: {}", money(invoice.total, &invoice.currency)));
    let mut content = String::from("BT /F1 12 Tf 72 770 Td 16 TL\n");
    for line in &lines {
        content.push_str(&format!("({}) Tj T*\n", escape(line)));
    }
    content.push_str("ET\n");

    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut pdf = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.push_str(&format!("{} 0 obj\n{object}\nendobj\n", i + 1));
    }
    let xref = pdf.len();
    pdf.push_str(&format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1));
    for offset in offsets {
        pdf.push_str(&format!("{offset:010} 00000 n \n"));
    }
    pdf.push_str(&format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1));
    pdf.into_bytes()
}

/// `1234` cents as `12.34 EUR`.
fn money(minor: u64, currency: &str) -> String {
    format!("{}.{:02} {currency}", minor / 100, minor % 100)
}

/// Text for a PDF string: backslashes and parentheses escaped, only printable ASCII kept.
fn escape(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .flat_map(|c| match c {
            '(' | ')' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LineItem;

    #[test]
    fn the_cross_reference_table_points_at_each_object() {
        let item = LineItem { description: "Design (logo)".into(), quantity: 2, unit_price: 1250, amount: 2500 };
        let invoice = Invoice {
            id: 1,
            number: "INV-0001".into(),
            customer_id: 1,
            currency: "EUR".into(),
            due_date: None,
            line_items: vec![item],
            total: 2500,
        };
        let pdf = String::from_utf8(invoice_pdf(&invoice, None)).unwrap();
        assert!(pdf.starts_with("%PDF-1.4\n") && pdf.ends_with("%%EOF\n"));
        assert!(pdf.contains("(2 x Design \\(logo\\)  25.00 EUR) Tj"), "{pdf}");
        let xref = pdf.find("xref\n").unwrap();
        let start: usize = pdf.rsplit("startxref\n").next().unwrap().lines().next().unwrap().parse().unwrap();
        assert_eq!(start, xref);
        for (i, line) in pdf[xref..].lines().skip(3).take(5).enumerate() {
            let offset: usize = line[..10].parse().unwrap();
            assert!(pdf[offset..].starts_with(&format!("{} 0 obj", i + 1)), "object {}", i + 1);
        }
    }
}
