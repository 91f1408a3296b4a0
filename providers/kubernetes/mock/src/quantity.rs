//! Resource quantities in the canonical form the API server stores them in: `0.5` CPU
//! reads back as `500m`, `1024Mi` as `1Gi`, a JSON number as a string. A manifest that
//! writes them otherwise never matches what is read back.

use serde_json::Value;

const DECIMAL: [(i32, &str); 10] = [
    (-9, "n"),
    (-6, "u"),
    (-3, "m"),
    (0, ""),
    (3, "k"),
    (6, "M"),
    (9, "G"),
    (12, "T"),
    (15, "P"),
    (18, "E"),
];

const BINARY: [(u32, &str); 6] = [
    (1, "Ki"),
    (2, "Mi"),
    (3, "Gi"),
    (4, "Ti"),
    (5, "Pi"),
    (6, "Ei"),
];

/// `digits × 10^exponent`, exactly.
fn parse_decimal(text: &str) -> Option<(i128, i32)> {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole
            .chars()
            .chain(fraction.chars())
            .all(|c| c.is_ascii_digit())
        || whole.len() + fraction.len() > 30
    {
        return None;
    }
    let digits: i128 = format!("{whole}{fraction}").parse().ok()?;
    let exponent = -i32::try_from(fraction.len()).ok()?;
    Some((if negative { -digits } else { digits }, exponent))
}

/// The canonical text of a quantity, or `None` if it is not one.
pub fn canonical(text: &str) -> Option<String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let (mut digits, mut exponent) = parse_decimal(number)?;
    if let Some((power, _)) = BINARY.iter().find(|(_, s)| *s == suffix) {
        let mut value = digits.checked_mul(1024_i128.checked_pow(*power)?)?;
        // A fraction of a byte rounds up, as the server does.
        while exponent < 0 {
            let scale = 10_i128.checked_pow(u32::try_from(-exponent).ok()?)?;
            value = value / scale + i128::from(value % scale != 0);
            exponent = 0;
        }
        return Some(binary(value));
    }
    let (shift, _) = DECIMAL.iter().find(|(_, s)| *s == suffix)?;
    exponent += shift;
    if digits == 0 {
        return Some("0".to_owned());
    }
    while digits % 10 == 0 {
        digits /= 10;
        exponent += 1;
    }
    // The largest unit that keeps the number whole; below nano it rounds up to 1n.
    if exponent < -9 {
        let scale = 10_i128.checked_pow(u32::try_from(-9 - exponent).ok()?)?;
        digits = digits / scale + i128::from(digits % scale != 0);
        exponent = -9;
    }
    let unit = DECIMAL
        .iter()
        .rev()
        .find(|(e, _)| *e <= exponent)
        .unwrap_or(&DECIMAL[0]);
    let mantissa =
        digits.checked_mul(10_i128.checked_pow(u32::try_from(exponent - unit.0).ok()?)?)?;
    Some(format!("{mantissa}{}", unit.1))
}

/// A whole number of bytes in binary units when it is at least 1Ki and a whole number
/// of some unit, else as a plain (decimal) number.
fn binary(value: i128) -> String {
    if value.abs() < 1024 {
        return value.to_string();
    }
    let unit = BINARY
        .iter()
        .rev()
        .find(|(power, _)| value % 1024_i128.pow(*power) == 0);
    match unit {
        Some((power, suffix)) => format!("{}{suffix}", value / 1024_i128.pow(*power)),
        None => value.to_string(),
    }
}

/// Canonicalizes every quantity of a `{resource: quantity}` map (requests, limits).
pub fn canonicalize_map(map: &mut Value) {
    if let Some(entries) = map.as_object_mut() {
        for value in entries.values_mut() {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                _ => continue,
            };
            if let Some(canonical) = canonical(&text) {
                *value = Value::String(canonical);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_back_as_the_api_server_writes_them() {
        for (given, stored) in [
            ("0.5", "500m"),
            ("1000m", "1"),
            ("250m", "250m"),
            ("1.5", "1500m"),
            ("2000", "2k"),
            ("1", "1"),
            ("0", "0"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("1Gi", "1Gi"),
            ("0.5Gi", "512Mi"),
            ("512", "512"),
            ("128974848", "128974848"),
            ("1G", "1G"),
        ] {
            assert_eq!(canonical(given).as_deref(), Some(stored), "{given}");
        }
        assert_eq!(canonical("lots"), None);
    }

    #[test]
    fn numbers_become_strings() {
        let mut map = serde_json::json!({"cpu": 0.5, "memory": 1073741824_u64});
        canonicalize_map(&mut map);
        assert_eq!(
            map,
            serde_json::json!({"cpu": "500m", "memory": "1073741824"})
        );
    }
}
