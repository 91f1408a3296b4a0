//! The built-in functions callable inside `${...}`.
//!
//! Two families: scalar functions (`lower`, `jsonencode`, `cidrsubnet`, ...) need every
//! argument fully known and see secrets revealed, so their result is unknown if any input
//! is and sensitive if any input is; structural functions (`concat`, `merge`, `lookup`,
//! `element`, `length`, `coalesce`) only look at the outer shape and keep their elements'
//! own unknown and sensitive markers. Errors name the function and types, never values.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine as _;
use cairn_provider_core::Value;

use super::eval::{reveal, reveal_top, taint};

/// Names of the built-in functions, for parse-time checks and suggestions.
pub const FUNCTIONS: &[&str] = &[
    "base64decode",
    "base64encode",
    "can",
    "cidrsubnet",
    "coalesce",
    "concat",
    "contains",
    "distinct",
    "element",
    "flatten",
    "format",
    "join",
    "jsonencode",
    "keys",
    "length",
    "lookup",
    "lower",
    "max",
    "merge",
    "min",
    "range",
    "replace",
    "slice",
    "split",
    "tolist",
    "toset",
    "tostring",
    "trimprefix",
    "try",
    "upper",
    "values",
    "zipmap",
];

pub(super) fn call(function: &str, args: Vec<Value>) -> Result<Value, String> {
    match function {
        "concat" => concat(args),
        "merge" => merge(args),
        "lookup" => lookup(args),
        "element" => element(args),
        "length" => length(args),
        "coalesce" => coalesce(args),
        "keys" => keys(args),
        "values" => values(args),
        "toset" => toset(args),
        "tolist" => tolist(args),
        "distinct" => distinct(args),
        "flatten" => flatten(args),
        "zipmap" => zipmap(args),
        "contains" => contains(args),
        "slice" => slice(args),
        _ => scalar(function, args),
    }
}

fn arity(function: &str, args: &[Value], expected: usize) -> Result<(), String> {
    if args.len() == expected {
        Ok(())
    } else {
        Err(format!(
            "{function}() takes {expected} arguments, got {}",
            args.len()
        ))
    }
}

/// Reveals every argument; returns the unknown (tainted) result early.
fn scalar(function: &str, args: Vec<Value>) -> Result<Value, String> {
    let mut sensitive = false;
    let mut revealed = Vec::with_capacity(args.len());
    for arg in &args {
        let (value, s) = reveal(arg);
        sensitive |= s;
        revealed.push(value);
    }
    if revealed.iter().any(Value::contains_unknown) {
        return Ok(taint(Value::Unknown, sensitive));
    }
    let result = match function {
        "cidrsubnet" => {
            arity(function, &revealed, 3)?;
            cidrsubnet(
                text_arg(function, &revealed[0])?,
                int_arg(function, &revealed[1])?,
                int_arg(function, &revealed[2])?,
            )?
        }
        "jsonencode" => {
            arity(function, &revealed, 1)?;
            let json = revealed[0]
                .expose()
                .ok_or("jsonencode() got a value that is not known")?;
            Value::String(json.to_string())
        }
        "base64encode" => {
            arity(function, &revealed, 1)?;
            Value::String(
                base64::engine::general_purpose::STANDARD.encode(text_arg(function, &revealed[0])?),
            )
        }
        "base64decode" => {
            arity(function, &revealed, 1)?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text_arg(function, &revealed[0])?)
                .map_err(|_| "base64decode() got a string that is not valid base64".to_owned())?;
            Value::String(
                String::from_utf8(bytes)
                    .map_err(|_| "base64decode() result is not UTF-8 text".to_owned())?,
            )
        }
        "join" => {
            arity(function, &revealed, 2)?;
            let separator = text_arg(function, &revealed[0])?;
            let items = list_arg(function, &revealed[1])?
                .iter()
                .map(|item| text_arg(function, item))
                .collect::<Result<Vec<_>, _>>()?;
            Value::String(items.join(&separator))
        }
        "split" => {
            arity(function, &revealed, 2)?;
            let separator = text_arg(function, &revealed[0])?;
            let text = text_arg(function, &revealed[1])?;
            if separator.is_empty() {
                return Err("split() needs a non-empty separator".to_owned());
            }
            Value::List(text.split(separator.as_str()).map(Value::from).collect())
        }
        "lower" => {
            arity(function, &revealed, 1)?;
            Value::String(text_arg(function, &revealed[0])?.to_lowercase())
        }
        "upper" => {
            arity(function, &revealed, 1)?;
            Value::String(text_arg(function, &revealed[0])?.to_uppercase())
        }
        "replace" => {
            arity(function, &revealed, 3)?;
            let text = text_arg(function, &revealed[0])?;
            let from = text_arg(function, &revealed[1])?;
            let to = text_arg(function, &revealed[2])?;
            if from.is_empty() {
                return Err("replace() needs a non-empty string to replace".to_owned());
            }
            Value::String(text.replace(&from, &to))
        }
        "trimprefix" => {
            arity(function, &revealed, 2)?;
            let text = text_arg(function, &revealed[0])?;
            let prefix = text_arg(function, &revealed[1])?;
            Value::String(
                text.strip_prefix(prefix.as_str())
                    .unwrap_or(&text)
                    .to_owned(),
            )
        }
        "tostring" => {
            arity(function, &revealed, 1)?;
            match &revealed[0] {
                Value::Null => Value::Null,
                other => Value::String(text_arg(function, other)?),
            }
        }
        "format" => format(&revealed)?,
        "range" => range(&revealed)?,
        "max" | "min" => extreme(function, &revealed)?,
        other => return Err(format!("unknown function `{other}`")),
    };
    Ok(taint(result, sensitive))
}

/// A string, or a number or bool converted to one.
fn text_arg(function: &str, value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Int(i) => Ok(i.to_string()),
        Value::Float(f) => Ok(f.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!(
            "{function}() needs a string, got {}",
            other.type_name()
        )),
    }
}

fn int_arg(function: &str, value: &Value) -> Result<i64, String> {
    match value {
        Value::Int(i) => Ok(*i),
        Value::Float(f) if f.fract() == 0.0 => Ok(*f as i64),
        Value::String(s) => s
            .parse()
            .map_err(|_| format!("{function}() needs a whole number")),
        other => Err(format!(
            "{function}() needs a whole number, got {}",
            other.type_name()
        )),
    }
}

fn list_arg<'a>(function: &str, value: &'a Value) -> Result<&'a [Value], String> {
    value
        .as_list()
        .ok_or_else(|| format!("{function}() needs a list, got {}", value.type_name()))
}

/// `cidrsubnet("10.0.0.0/16", 8, 2)` = `"10.0.2.0/24"`, for IPv4 and IPv6 prefixes.
fn cidrsubnet(prefix: String, newbits: i64, netnum: i64) -> Result<Value, String> {
    let (address, length) = prefix
        .split_once('/')
        .ok_or_else(|| "cidrsubnet() needs a prefix like \"10.0.0.0/16\"".to_owned())?;
    let address: IpAddr = address
        .parse()
        .map_err(|_| "cidrsubnet() got an invalid IP address".to_owned())?;
    let length: u32 = length
        .parse()
        .map_err(|_| "cidrsubnet() got an invalid prefix length".to_owned())?;
    let width = match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    let newbits = u32::try_from(newbits)
        .map_err(|_| "cidrsubnet() newbits must not be negative".to_owned())?;
    let netnum = u128::try_from(netnum)
        .map_err(|_| "cidrsubnet() netnum must not be negative".to_owned())?;
    let new_length = length + newbits;
    if length > width || new_length > width {
        return Err(format!(
            "cidrsubnet() cannot extend a /{length} prefix by {newbits} bits"
        ));
    }
    if newbits < 128 && netnum >= (1u128 << newbits) {
        return Err(format!(
            "cidrsubnet() netnum {netnum} does not fit in {newbits} bits"
        ));
    }
    let base = match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    };
    let host_bits = width - new_length;
    let network_mask = if length == 0 {
        0
    } else {
        u128::MAX << (width - length)
    } & full_mask(width);
    let network = (base & network_mask) | netnum.checked_shl(host_bits).unwrap_or(0);
    let address = match address {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(network).unwrap_or(0))),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(network)),
    };
    Ok(Value::String(format!("{address}/{new_length}")))
}

fn full_mask(width: u32) -> u128 {
    if width >= 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    }
}

/// `%s` (any scalar), `%d` (a whole number) and `%%`.
fn format(args: &[Value]) -> Result<Value, String> {
    let Some((template, rest)) = args.split_first() else {
        return Err("format() needs a format string".to_owned());
    };
    let template = text_arg("format", template)?;
    let mut rest = rest.iter();
    let mut out = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(verb @ ('s' | 'd')) => {
                let arg = rest
                    .next()
                    .ok_or("format() has more verbs than arguments")?;
                if verb == 'd' {
                    out.push_str(&int_arg("format", arg)?.to_string());
                } else {
                    out.push_str(&text_arg("format", arg)?);
                }
            }
            _ => return Err("format() supports only %s, %d and %%".to_owned()),
        }
    }
    if rest.next().is_some() {
        return Err("format() has more arguments than verbs".to_owned());
    }
    Ok(Value::String(out))
}

/// Unwraps each argument's outer sensitive wrapper; `Err(result)` is the early unknown.
fn reveal_args(args: Vec<Value>) -> Result<(Vec<Value>, bool), Value> {
    let mut sensitive = false;
    let mut out = Vec::with_capacity(args.len());
    for arg in args {
        let (value, s) = reveal_top(arg);
        sensitive |= s;
        out.push(value);
    }
    if out.iter().any(|v| matches!(v, Value::Unknown)) {
        return Err(taint(Value::Unknown, sensitive));
    }
    Ok((out, sensitive))
}

fn concat(args: Vec<Value>) -> Result<Value, String> {
    let (args, sensitive) = match reveal_args(args) {
        Ok(revealed) => revealed,
        Err(unknown) => return Ok(unknown),
    };
    let mut out = Vec::new();
    for arg in args {
        match arg {
            Value::List(items) => out.extend(items),
            other => return Err(format!("concat() needs lists, got {}", other.type_name())),
        }
    }
    Ok(taint(Value::List(out), sensitive))
}

fn merge(args: Vec<Value>) -> Result<Value, String> {
    let (args, sensitive) = match reveal_args(args) {
        Ok(revealed) => revealed,
        Err(unknown) => return Ok(unknown),
    };
    let mut out = BTreeMap::new();
    for arg in args {
        match arg {
            Value::Map(map) => out.extend(map),
            Value::Null => {}
            other => return Err(format!("merge() needs maps, got {}", other.type_name())),
        }
    }
    Ok(taint(Value::Map(out), sensitive))
}

fn lookup(args: Vec<Value>) -> Result<Value, String> {
    arity("lookup", &args, 3)?;
    let (mut args, sensitive) = match reveal_args(args) {
        Ok(revealed) => revealed,
        Err(unknown) => return Ok(unknown),
    };
    let default = args.pop().unwrap_or_default();
    let key = text_arg("lookup", &args[1])?;
    match &mut args[0] {
        Value::Map(map) => Ok(taint(map.remove(&key).unwrap_or(default), sensitive)),
        other => Err(format!("lookup() needs a map, got {}", other.type_name())),
    }
}

fn element(args: Vec<Value>) -> Result<Value, String> {
    arity("element", &args, 2)?;
    let (mut args, sensitive) = match reveal_args(args) {
        Ok(revealed) => revealed,
        Err(unknown) => return Ok(unknown),
    };
    let index = int_arg("element", &args[1])?;
    match &mut args[0] {
        Value::List(items) if !items.is_empty() => {
            // Wraps around like Terraform's element(), so `element(azs, i)` spreads
            // any number of subnets over the zones.
            let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
            let at = usize::try_from(index.rem_euclid(len)).unwrap_or(0);
            Ok(taint(items.swap_remove(at), sensitive))
        }
        Value::List(_) => Err("element() cannot index an empty list".to_owned()),
        other => Err(format!("element() needs a list, got {}", other.type_name())),
    }
}

fn length(args: Vec<Value>) -> Result<Value, String> {
    arity("length", &args, 1)?;
    let (args, sensitive) = match reveal_args(args) {
        Ok(revealed) => revealed,
        Err(unknown) => return Ok(unknown),
    };
    let len = match &args[0] {
        Value::String(s) => s.chars().count(),
        Value::List(items) => items.len(),
        Value::Map(map) => map.len(),
        other => {
            return Err(format!(
                "length() needs a string, list or map, got {}",
                other.type_name()
            ));
        }
    };
    Ok(taint(
        Value::Int(i64::try_from(len).unwrap_or(i64::MAX)),
        sensitive,
    ))
}

/// The one argument, its outer sensitive wrapper removed; `Err(Ok(unknown))` early.
fn single(function: &str, args: Vec<Value>) -> Result<(Value, bool), Result<Value, String>> {
    arity(function, &args, 1).map_err(Err)?;
    let (mut args, sensitive) = reveal_args(args).map_err(Ok)?;
    Ok((args.pop().unwrap_or_default(), sensitive))
}

/// A map's keys, sorted.
fn keys(args: Vec<Value>) -> Result<Value, String> {
    let (value, sensitive) = match single("keys", args) {
        Ok(revealed) => revealed,
        Err(early) => return early,
    };
    match value {
        Value::Map(map) => Ok(taint(
            Value::List(map.into_keys().map(Value::String).collect()),
            sensitive,
        )),
        other => Err(format!("keys() needs a map, got {}", other.type_name())),
    }
}

/// A map's values, in key order.
fn values(args: Vec<Value>) -> Result<Value, String> {
    let (value, sensitive) = match single("values", args) {
        Ok(revealed) => revealed,
        Err(early) => return early,
    };
    match value {
        Value::Map(map) => Ok(taint(Value::List(map.into_values().collect()), sensitive)),
        other => Err(format!("values() needs a map, got {}", other.type_name())),
    }
}

fn list_of(function: &str, value: Value) -> Result<Vec<Value>, String> {
    match value {
        Value::List(items) => Ok(items),
        other => Err(format!(
            "{function}() needs a list, got {}",
            other.type_name()
        )),
    }
}

/// A set is a sorted list without duplicates: cairn has no separate set type. Unknown
/// while any element is, since it could equal another.
fn toset(args: Vec<Value>) -> Result<Value, String> {
    let (value, sensitive) = match single("toset", args) {
        Ok(revealed) => revealed,
        Err(early) => return early,
    };
    let items = list_of("toset", value)?;
    if items.iter().any(Value::contains_unknown) {
        return Ok(taint(Value::Unknown, sensitive));
    }
    let mut set: Vec<Value> = Vec::with_capacity(items.len());
    for item in items {
        if !set.contains(&item) {
            set.push(item);
        }
    }
    set.sort_by_key(sort_key);
    Ok(taint(Value::List(set), sensitive))
}

/// Orders set elements: strings by text, everything else after them by its JSON.
fn sort_key(value: &Value) -> (u8, String) {
    match value {
        Value::String(s) => (0, s.clone()),
        other => (
            1,
            other
                .expose()
                .map(|json| json.to_string())
                .unwrap_or_default(),
        ),
    }
}

fn tolist(args: Vec<Value>) -> Result<Value, String> {
    let (value, sensitive) = match single("tolist", args) {
        Ok(revealed) => revealed,
        Err(early) => return early,
    };
    Ok(taint(Value::List(list_of("tolist", value)?), sensitive))
}

/// The list without repeated elements, first occurrences kept in order.
fn distinct(args: Vec<Value>) -> Result<Value, String> {
    let (value, sensitive) = match single("distinct", args) {
        Ok(revealed) => revealed,
        Err(early) => return early,
    };
    let items = list_of("distinct", value)?;
    if items.iter().any(Value::contains_unknown) {
        return Ok(taint(Value::Unknown, sensitive));
    }
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    Ok(taint(Value::List(out), sensitive))
}

/// Lists of lists into one list, at any depth.
fn flatten(args: Vec<Value>) -> Result<Value, String> {
    fn into(items: Vec<Value>, out: &mut Vec<Value>, sensitive: &mut bool) -> bool {
        for item in items {
            let (item, s) = reveal_top(item);
            *sensitive |= s;
            match item {
                Value::Unknown => return false,
                Value::List(inner) => {
                    if !into(inner, out, sensitive) {
                        return false;
                    }
                }
                other => out.push(taint(other, s)),
            }
        }
        true
    }
    let (value, mut sensitive) = match single("flatten", args) {
        Ok(revealed) => revealed,
        Err(early) => return early,
    };
    let mut out = Vec::new();
    if !into(list_of("flatten", value)?, &mut out, &mut sensitive) {
        return Ok(taint(Value::Unknown, sensitive));
    }
    Ok(taint(Value::List(out), sensitive))
}

/// `zipmap(keys, values)`: a map from two lists of the same length.
fn zipmap(args: Vec<Value>) -> Result<Value, String> {
    arity("zipmap", &args, 2)?;
    let (mut args, sensitive) = match reveal_args(args) {
        Ok(revealed) => revealed,
        Err(unknown) => return Ok(unknown),
    };
    let values = list_of("zipmap", args.pop().unwrap_or_default())?;
    let keys = list_of("zipmap", args.pop().unwrap_or_default())?;
    if keys.len() != values.len() {
        return Err(format!(
            "zipmap() needs lists of the same length, got {} keys and {} values",
            keys.len(),
            values.len()
        ));
    }
    let mut map = BTreeMap::new();
    let mut key_sensitive = false;
    for (key, value) in keys.into_iter().zip(values) {
        let (key, s) = reveal(&key);
        key_sensitive |= s;
        if key.contains_unknown() {
            return Ok(taint(Value::Unknown, sensitive || key_sensitive));
        }
        map.insert(text_arg("zipmap", &key)?, value);
    }
    Ok(taint(Value::Map(map), sensitive || key_sensitive))
}

/// `slice(list, start, end)`: the elements from `start` up to, not including, `end`.
fn slice(args: Vec<Value>) -> Result<Value, String> {
    arity("slice", &args, 3)?;
    let (mut args, sensitive) = match reveal_args(args) {
        Ok(revealed) => revealed,
        Err(unknown) => return Ok(unknown),
    };
    let end = int_arg("slice", &args[2])?;
    let start = int_arg("slice", &args[1])?;
    let items = list_of("slice", std::mem::take(&mut args[0]))?;
    let len = items.len();
    match (usize::try_from(start), usize::try_from(end)) {
        (Ok(start), Ok(end)) if start <= end && end <= len => Ok(taint(
            Value::List(items.into_iter().skip(start).take(end - start).collect()),
            sensitive,
        )),
        _ => Err(format!(
            "slice() needs 0 <= start <= end <= {len} (the list's length), got {start} and {end}"
        )),
    }
}

/// `contains(list, value)`.
fn contains(args: Vec<Value>) -> Result<Value, String> {
    arity("contains", &args, 2)?;
    let mut sensitive = false;
    let mut revealed = Vec::with_capacity(2);
    for arg in &args {
        let (value, s) = reveal(arg);
        sensitive |= s;
        revealed.push(value);
    }
    if revealed.iter().any(Value::contains_unknown) {
        return Ok(taint(Value::Unknown, sensitive));
    }
    let needle = &revealed[1];
    let found = list_arg("contains", &revealed[0])?
        .iter()
        .any(|item| item == needle);
    Ok(taint(Value::Bool(found), sensitive))
}

/// `range(end)`, `range(start, end)`, `range(start, end, step)` of whole numbers.
fn range(args: &[Value]) -> Result<Value, String> {
    let numbers = args
        .iter()
        .map(|a| int_arg("range", a))
        .collect::<Result<Vec<_>, _>>()?;
    let (start, end, step) = match numbers.as_slice() {
        [end] => (0, *end, 1),
        [start, end] => (*start, *end, if start <= end { 1 } else { -1 }),
        [start, end, step] => (*start, *end, *step),
        _ => return Err("range() takes 1 to 3 arguments".to_owned()),
    };
    if step == 0 {
        return Err("range() step must not be zero".to_owned());
    }
    let span = i128::from(end) - i128::from(start);
    let stride = i128::from(step);
    let count = if span == 0 || (span > 0) != (stride > 0) {
        0
    } else {
        (span + stride - stride.signum()) / stride
    };
    if count > 10_000 {
        return Err("range() would make more than 10,000 numbers".to_owned());
    }
    let out = (0..count)
        .map(|i| Value::Int(i64::try_from(i128::from(start) + i * stride).unwrap_or(end)))
        .collect();
    Ok(Value::List(out))
}

/// `max(...)`, `min(...)` of numbers.
fn extreme(function: &str, args: &[Value]) -> Result<Value, String> {
    let mut best: Option<Value> = None;
    for arg in args {
        let number = match arg {
            Value::Int(_) | Value::Float(_) => arg.clone(),
            other => {
                return Err(format!(
                    "{function}() needs numbers, got {}",
                    other.type_name()
                ));
            }
        };
        let as_float = |v: &Value| match v {
            Value::Int(i) => *i as f64,
            Value::Float(f) => *f,
            _ => 0.0,
        };
        let better = best.as_ref().is_none_or(|b| {
            if function == "max" {
                as_float(&number) > as_float(b)
            } else {
                as_float(&number) < as_float(b)
            }
        });
        if better {
            best = Some(number);
        }
    }
    best.ok_or_else(|| format!("{function}() needs at least one number"))
}

/// The first argument that is not null. An unknown before it makes the result unknown,
/// since it might turn out not to be null; arguments after the chosen one do not matter.
fn coalesce(args: Vec<Value>) -> Result<Value, String> {
    if args.is_empty() {
        return Err("coalesce() needs at least one argument".to_owned());
    }
    let mut sensitive = false;
    for arg in args {
        let (value, s) = reveal_top(arg);
        sensitive |= s;
        match value {
            Value::Null => {}
            other => return Ok(taint(other, sensitive)),
        }
    }
    Ok(taint(Value::Null, sensitive))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::from(text)
    }

    fn ok(function: &str, args: Vec<Value>) -> Value {
        match call(function, args) {
            Ok(value) => value,
            Err(message) => panic!("{function}() failed: {message}"),
        }
    }

    #[test]
    fn cidrsubnet_v4_and_v6() {
        assert_eq!(
            ok(
                "cidrsubnet",
                vec![s("10.0.0.0/16"), Value::Int(8), Value::Int(2)]
            ),
            s("10.0.2.0/24")
        );
        assert_eq!(
            ok(
                "cidrsubnet",
                vec![s("10.0.0.0/16"), Value::Int(4), Value::Int(15)]
            ),
            s("10.0.240.0/20")
        );
        assert_eq!(
            ok(
                "cidrsubnet",
                vec![s("10.1.2.3/16"), Value::Int(0), Value::Int(0)]
            ),
            s("10.1.0.0/16")
        );
        assert_eq!(
            ok(
                "cidrsubnet",
                vec![s("fd00::/56"), Value::Int(8), Value::Int(1)]
            ),
            s("fd00:0:0:1::/64")
        );
        assert!(
            call(
                "cidrsubnet",
                vec![s("10.0.0.0/16"), Value::Int(2), Value::Int(4)]
            )
            .is_err()
        );
        assert!(
            call(
                "cidrsubnet",
                vec![s("10.0.0.0/30"), Value::Int(8), Value::Int(0)]
            )
            .is_err()
        );
        assert!(
            call(
                "cidrsubnet",
                vec![s("nonsense"), Value::Int(8), Value::Int(0)]
            )
            .is_err()
        );
    }

    #[test]
    fn string_functions() {
        assert_eq!(
            ok("jsonencode", vec![Value::from(vec![s("a"), s("b")])]),
            s(r#"["a","b"]"#)
        );
        assert_eq!(ok("base64encode", vec![s("airflow")]), s("YWlyZmxvdw=="));
        assert_eq!(ok("base64decode", vec![s("YWlyZmxvdw==")]), s("airflow"));
        assert!(call("base64decode", vec![s("***")]).is_err());
        assert_eq!(
            ok("join", vec![s(","), Value::from(vec![s("a"), s("b")])]),
            s("a,b")
        );
        assert_eq!(
            ok("split", vec![s(","), s("a,b")]),
            Value::from(vec![s("a"), s("b")])
        );
        assert_eq!(ok("lower", vec![s("AbC")]), s("abc"));
        assert_eq!(ok("upper", vec![s("AbC")]), s("ABC"));
        assert_eq!(ok("replace", vec![s("a-b-c"), s("-"), s("_")]), s("a_b_c"));
        assert_eq!(
            ok("trimprefix", vec![s("arn:aws:x"), s("arn:")]),
            s("aws:x")
        );
        assert_eq!(ok("trimprefix", vec![s("x"), s("arn:")]), s("x"));
        assert_eq!(ok("tostring", vec![Value::Int(5)]), s("5"));
        assert_eq!(ok("tostring", vec![Value::Null]), Value::Null);
        assert_eq!(
            ok("format", vec![s("%s-%d%%"), s("db"), Value::Int(3)]),
            s("db-3%")
        );
        assert!(call("format", vec![s("%s %s"), s("one")]).is_err());
        assert!(call("lower", vec![]).is_err());
    }

    #[test]
    fn structural_functions() {
        let list = Value::from(vec![s("a"), s("b"), s("c")]);
        assert_eq!(
            ok(
                "concat",
                vec![Value::from(vec![s("a")]), Value::from(vec![s("b")])]
            ),
            Value::from(vec![s("a"), s("b")])
        );
        let first = Value::Map(BTreeMap::from([
            ("k".to_owned(), s("1")),
            ("x".to_owned(), s("1")),
        ]));
        let second = Value::Map(BTreeMap::from([("k".to_owned(), s("2"))]));
        let merged = ok("merge", vec![first.clone(), second]);
        assert_eq!(merged.get("k"), Some(s("2")));
        assert_eq!(merged.get("x"), Some(s("1")));
        assert_eq!(ok("lookup", vec![first.clone(), s("x"), s("d")]), s("1"));
        assert_eq!(ok("lookup", vec![first, s("missing"), s("d")]), s("d"));
        assert_eq!(ok("length", vec![list.clone()]), Value::Int(3));
        assert_eq!(ok("length", vec![s("héllo")]), Value::Int(5));
        assert_eq!(ok("element", vec![list.clone(), Value::Int(4)]), s("b"));
        assert_eq!(ok("coalesce", vec![Value::Null, s("x"), s("y")]), s("x"));
        assert_eq!(ok("coalesce", vec![Value::Null]), Value::Null);
    }

    #[test]
    fn unknown_and_sensitive_propagate() {
        let secret = s("hunter2").sensitive();
        assert!(ok("upper", vec![secret.clone()]).is_sensitive());
        assert_eq!(ok("upper", vec![Value::Unknown]), Value::Unknown);
        assert!(ok("jsonencode", vec![Value::from(vec![secret.clone()])]).is_sensitive());
        assert_eq!(
            ok(
                "join",
                vec![s(","), Value::List(vec![s("a"), Value::Unknown])]
            ),
            Value::Unknown
        );
        // Structural functions keep element markers and stay known.
        let mixed = ok(
            "concat",
            vec![
                Value::List(vec![Value::Unknown]),
                Value::List(vec![secret.clone()]),
            ],
        );
        assert_eq!(mixed.as_list().map(<[Value]>::len), Some(2));
        assert!(!mixed.is_sensitive() && mixed.contains_sensitive() && mixed.contains_unknown());
        assert_eq!(
            ok("length", vec![Value::List(vec![Value::Unknown])]),
            Value::Int(1)
        );
        // coalesce only needs the values up to the one it picks.
        assert_eq!(ok("coalesce", vec![s("a"), Value::Unknown]), s("a"));
        assert_eq!(ok("coalesce", vec![Value::Unknown, s("a")]), Value::Unknown);
        assert!(ok("coalesce", vec![Value::Null.sensitive(), s("a")]).is_sensitive());
        assert!(ok("length", vec![secret]).is_sensitive());
    }
}
