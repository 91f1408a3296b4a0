//! Parsing strings with `${...}` into templates and interpolations.
//!
//! Owns the small expression grammar inside `${...}`; knows nothing of TOML (the stack
//! loader hands it decoded strings) nor of schemas (references are checked by the
//! loader). Errors carry a byte offset into the string so the loader can point at the
//! exact character when the string has no escapes.

use std::collections::BTreeMap;

use cairn_provider_core::Value;

use super::FUNCTIONS;
use super::{BinaryOp, EachField, ExprKind, ForExpr, Interp, PathSegment, Reference, TemplatePart};
use crate::addr::ResourceAddr;
use crate::diagnostics::closest;

/// How deeply `${...}` may nest (parentheses, calls, `!`, lists, maps, conditionals).
/// Parsing recurses once per level, and so does every later walk over the tree
/// (evaluation, reference collection), so this bound is what keeps all of them off the
/// end of the thread's stack (issue 11: 4,000 levels overflowed it). Real stacks nest a
/// handful of levels.
pub const MAX_DEPTH: usize = 64;

/// Why a string's `${...}` could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// What is wrong.
    pub message: String,
    /// Byte offset into the string where the problem starts.
    pub offset: usize,
}

fn error(message: impl Into<String>, offset: usize) -> ParseError {
    ParseError {
        message: message.into(),
        offset,
    }
}

/// Parses a string value: a literal when it has no `${`, an [`ExprKind::Interpolation`]
/// when it is exactly one `${...}`, a [`ExprKind::Template`] otherwise. `$${` stands for a
/// literal `${`.
pub fn parse_string(text: &str) -> Result<ExprKind, ParseError> {
    let mut parts = template_parts(text, &[], 0)?;
    Ok(match parts.len() {
        0 => ExprKind::Literal(Value::String(String::new())),
        1 => match parts.pop() {
            Some(TemplatePart::Interp(interp)) => ExprKind::Interpolation(Box::new(interp)),
            Some(TemplatePart::Text(text)) => ExprKind::Literal(Value::String(text)),
            None => ExprKind::Literal(Value::String(String::new())),
        },
        _ => ExprKind::Template(parts),
    })
}

/// Splits `text` into literal text and `${...}` parts; `bound` are the names of enclosing
/// `for` variables (for a string literal inside `${...}`), `depth` its nesting.
fn template_parts(
    text: &str,
    bound: &[String],
    depth: usize,
) -> Result<Vec<TemplatePart>, ParseError> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut pos = 0;
    while pos < text.len() {
        if text[pos..].starts_with("$${") {
            literal.push_str("${");
            pos += 3;
        } else if text[pos..].starts_with("${") {
            if !literal.is_empty() {
                parts.push(TemplatePart::Text(std::mem::take(&mut literal)));
            }
            let mut parser = Parser {
                text,
                pos: pos + 2,
                depth,
                bound: bound.to_vec(),
            };
            let interp = parser.expression()?;
            parser.skip_space();
            if parser.peek() != Some(b'}') {
                return Err(match parser.peek() {
                    None => error("unterminated `${`: expected `}`", pos),
                    Some(_) => error("unexpected characters in `${...}`", parser.pos),
                });
            }
            pos = parser.pos + 1;
            parts.push(TemplatePart::Interp(interp));
        } else {
            // Always consume at least one character so a lone `$` makes progress.
            let first = text[pos..].chars().next().map_or(1, char::len_utf8);
            let next = text[pos + first..]
                .find('$')
                .map_or(text.len(), |i| pos + first + i);
            literal.push_str(&text[pos..next]);
            pos = next;
        }
    }
    if !literal.is_empty() {
        parts.push(TemplatePart::Text(literal));
    }
    Ok(parts)
}

/// Recursive descent over the inside of one `${...}`; `pos` is a byte offset into the
/// whole string so errors point at the right place.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
    /// Nesting of the expression being parsed; see [`MAX_DEPTH`].
    depth: usize,
    /// Names bound by the enclosing `for` expressions, innermost last.
    bound: Vec<String>,
}

/// Operators by precedence level, loosest first; longer spellings before their prefixes.
const OR: &[(&str, BinaryOp)] = &[("||", BinaryOp::Or)];
const AND: &[(&str, BinaryOp)] = &[("&&", BinaryOp::And)];
const EQUALITY: &[(&str, BinaryOp)] = &[("==", BinaryOp::Equal), ("!=", BinaryOp::NotEqual)];
const COMPARISON: &[(&str, BinaryOp)] = &[
    ("<=", BinaryOp::LessEqual),
    (">=", BinaryOp::GreaterEqual),
    ("<", BinaryOp::Less),
    (">", BinaryOp::Greater),
];
const ADDITIVE: &[(&str, BinaryOp)] = &[("+", BinaryOp::Add), ("-", BinaryOp::Subtract)];
const MULTIPLICATIVE: &[(&str, BinaryOp)] = &[
    ("*", BinaryOp::Multiply),
    ("/", BinaryOp::Divide),
    ("%", BinaryOp::Modulo),
];

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// Consumes `token` (after whitespace) if it is next.
    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.text[self.pos..].starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn expect_token(&mut self, token: &str, context: &str) -> Result<(), ParseError> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(error(format!("expected `{token}` {context}"), self.pos))
        }
    }

    /// Every nested construct goes through here or through `unary`, so counting the
    /// depth in these two bounds the recursion of the whole parser.
    fn expression(&mut self) -> Result<Interp, ParseError> {
        self.descend()?;
        let parsed = self.conditional();
        self.depth -= 1;
        parsed
    }

    fn descend(&mut self) -> Result<(), ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(error(
                format!("expression nested too deeply: at most {MAX_DEPTH} levels"),
                self.pos,
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn conditional(&mut self) -> Result<Interp, ParseError> {
        let condition = self.or()?;
        if self.eat("?") {
            let then = self.expression()?;
            self.expect_token(":", "in a conditional `cond ? a : b`")?;
            let otherwise = self.expression()?;
            return Ok(Interp::Conditional {
                condition: Box::new(condition),
                then: Box::new(then),
                otherwise: Box::new(otherwise),
            });
        }
        Ok(condition)
    }

    fn or(&mut self) -> Result<Interp, ParseError> {
        self.level(OR, Self::and)
    }

    fn and(&mut self) -> Result<Interp, ParseError> {
        self.level(AND, Self::equality)
    }

    fn equality(&mut self) -> Result<Interp, ParseError> {
        self.level(EQUALITY, Self::comparison)
    }

    fn comparison(&mut self) -> Result<Interp, ParseError> {
        self.level(COMPARISON, Self::additive)
    }

    fn additive(&mut self) -> Result<Interp, ParseError> {
        self.level(ADDITIVE, Self::multiplicative)
    }

    fn multiplicative(&mut self) -> Result<Interp, ParseError> {
        self.level(MULTIPLICATIVE, Self::unary)
    }

    /// One precedence level: `next (op next)*`, left-associative. A chain `a == b == c`
    /// nests to the left without recursing here, but every walk over the tree recurses
    /// through it: each link counts as a level of nesting.
    fn level(
        &mut self,
        operators: &[(&str, BinaryOp)],
        next: fn(&mut Self) -> Result<Interp, ParseError>,
    ) -> Result<Interp, ParseError> {
        let mut lhs = next(self)?;
        let mark = self.depth;
        loop {
            self.skip_space();
            let rest = &self.text[self.pos..];
            let Some((token, op)) = operators.iter().find(|(token, _)| rest.starts_with(token))
            else {
                self.depth = mark;
                return Ok(lhs);
            };
            self.pos += token.len();
            self.descend()?;
            let rhs = next(self)?;
            lhs = Interp::Binary {
                op: *op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
        }
    }

    fn unary(&mut self) -> Result<Interp, ParseError> {
        self.skip_space();
        if self.peek() == Some(b'!') && self.text.as_bytes().get(self.pos + 1) != Some(&b'=') {
            self.pos += 1;
            self.descend()?;
            let operand = self.unary();
            self.depth -= 1;
            return Ok(Interp::Not(Box::new(operand?)));
        }
        // `-x` negates; `-1` is a number literal.
        if self.peek() == Some(b'-')
            && !self
                .text
                .as_bytes()
                .get(self.pos + 1)
                .is_some_and(u8::is_ascii_digit)
        {
            self.pos += 1;
            self.descend()?;
            let operand = self.unary();
            self.depth -= 1;
            return Ok(Interp::Binary {
                op: BinaryOp::Subtract,
                lhs: Box::new(Interp::Literal(Value::Int(0))),
                rhs: Box::new(operand?),
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Interp, ParseError> {
        self.skip_space();
        let start = self.pos;
        match self.peek() {
            None | Some(b'}') => Err(error("expected an expression", start)),
            Some(b'"') => {
                let text = self.string()?;
                if !text.contains("${") {
                    return Ok(Interp::Literal(Value::String(text)));
                }
                // A template inside `${...}`, e.g. `"${k}-${v.name}"` in a `for`.
                let mut parts = template_parts(&text, &self.bound, self.depth)
                    .map_err(|e| error(e.message, start))?;
                Ok(match (parts.len(), parts.first()) {
                    (1, Some(TemplatePart::Text(_))) => match parts.pop() {
                        Some(TemplatePart::Text(text)) => Interp::Literal(Value::String(text)),
                        _ => Interp::Literal(Value::String(String::new())),
                    },
                    _ => Interp::Template(parts),
                })
            }
            Some(b'(') => {
                self.pos += 1;
                let inner = self.expression()?;
                self.expect_token(")", "to close `(`")?;
                self.indexed(inner)
            }
            Some(b'[') => {
                self.pos += 1;
                if self.keyword("for") {
                    return self.for_expression(false);
                }
                let mut items = Vec::new();
                while !self.eat("]") {
                    items.push(self.expression()?);
                    if !self.eat(",") {
                        self.expect_token("]", "to close `[`")?;
                        break;
                    }
                }
                Ok(Interp::List(items))
            }
            Some(b'{') => self.map(),
            Some(c) if c.is_ascii_digit() || c == b'-' => self.number(),
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => self.word(),
            Some(_) => Err(error("unexpected character in `${...}`", start)),
        }
    }

    /// `{ key = value, "quoted key" = value }`; `:` is accepted for `=`.
    fn map(&mut self) -> Result<Interp, ParseError> {
        self.pos += 1;
        if self.keyword("for") {
            return self.for_expression(true);
        }
        let mut map = BTreeMap::new();
        while !self.eat("}") {
            self.skip_space();
            let key = match self.peek() {
                Some(b'"') => self.string()?,
                _ => self.required_identifier("a key in `{...}`")?,
            };
            if !self.eat("=") && !self.eat(":") {
                return Err(error("expected `=` after a key in `{...}`", self.pos));
            }
            map.insert(key, self.expression()?);
            if !self.eat(",") {
                self.expect_token("}", "to close `{`")?;
                break;
            }
        }
        Ok(Interp::Map(map))
    }

    /// Consumes `word` (after whitespace) if it is next and followed by whitespace.
    fn keyword(&mut self, word: &str) -> bool {
        self.skip_space();
        let rest = &self.text[self.pos..];
        let followed_by_space = rest
            .as_bytes()
            .get(word.len())
            .is_some_and(u8::is_ascii_whitespace);
        if rest.starts_with(word) && followed_by_space {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// After `[for` or `{for`: `K, V in COLLECTION : [KEY =>] VALUE [if COND]` and the
    /// closing bracket.
    fn for_expression(&mut self, map_form: bool) -> Result<Interp, ParseError> {
        self.skip_space();
        let first = self.required_identifier("a variable name after `for`")?;
        let (key_var, value_var) = if self.eat(",") {
            self.skip_space();
            let second = self.required_identifier("a second variable name after `,`")?;
            (Some(first), second)
        } else {
            (None, first)
        };
        if !self.keyword("in") {
            return Err(error(
                "expected `in` after the variables of `for`",
                self.pos,
            ));
        }
        let collection = self.expression()?;
        self.expect_token(":", "after the collection of a `for` expression")?;
        let names = usize::from(key_var.is_some()) + 1;
        self.bound.extend(key_var.iter().cloned());
        self.bound.push(value_var.clone());
        let body = self.for_body(map_form);
        self.bound.truncate(self.bound.len() - names);
        let (key, value, condition) = body?;
        let close = if map_form { "}" } else { "]" };
        self.expect_token(close, "to close the `for` expression")?;
        Ok(Interp::For(Box::new(ForExpr {
            key_var,
            value_var,
            collection,
            key,
            value,
            condition,
        })))
    }

    #[allow(clippy::type_complexity)]
    fn for_body(
        &mut self,
        map_form: bool,
    ) -> Result<(Option<Interp>, Interp, Option<Interp>), ParseError> {
        let key = if map_form {
            let key = self.expression()?;
            self.expect_token("=>", "between the key and the value of a `for` map")?;
            Some(key)
        } else {
            None
        };
        let value = self.expression()?;
        let condition = if self.keyword("if") {
            Some(self.expression()?)
        } else {
            None
        };
        Ok((key, value, condition))
    }

    fn identifier(&mut self) -> Option<&str> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        if !bytes
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        {
            return None;
        }
        while bytes
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
        {
            self.pos += 1;
        }
        Some(&self.text[start..self.pos])
    }

    fn required_identifier(&mut self, what: &str) -> Result<String, ParseError> {
        let at = self.pos;
        self.identifier()
            .map(str::to_owned)
            .ok_or_else(|| error(format!("expected {what}"), at))
    }

    /// A keyword, a function call, or a reference.
    fn word(&mut self) -> Result<Interp, ParseError> {
        let start = self.pos;
        let first = self.required_identifier("a name")?;
        match first.as_str() {
            "true" => return Ok(Interp::Literal(Value::Bool(true))),
            "false" => return Ok(Interp::Literal(Value::Bool(false))),
            "null" => return Ok(Interp::Literal(Value::Null)),
            _ => {}
        }
        if self.bound.contains(&first) {
            let path = self.path()?;
            return Ok(Interp::Bound { name: first, path });
        }
        self.skip_space();
        if self.peek() == Some(b'(') {
            if !FUNCTIONS.contains(&first.as_str()) {
                let hint = closest(&first, FUNCTIONS.iter().copied())
                    .map(|name| format!("; did you mean `{name}`?"))
                    .unwrap_or_default();
                return Err(error(format!("unknown function `{first}`{hint}"), start));
            }
            self.pos += 1;
            let mut args = Vec::new();
            if !self.eat(")") {
                loop {
                    args.push(self.expression()?);
                    if self.eat(")") {
                        break;
                    }
                    self.expect_token(",", "between function arguments")?;
                }
            }
            return self.indexed(Interp::Call {
                function: first,
                args,
            });
        }
        if self.peek() != Some(b'.') {
            return Err(error(
                format!(
                    "`{first}` is not a reference: expected `var.NAME`, `local.NAME`, `each.key` or `TYPE.NAME.ATTRIBUTE`"
                ),
                start,
            ));
        }
        self.pos += 1;
        match first.as_str() {
            "var" => {
                let name = self.required_identifier("a variable name after `var.`")?;
                let path = self.path()?;
                return Ok(Interp::Reference(Reference::Variable { name, path }));
            }
            "local" => {
                let name = self.required_identifier("a local name after `local.`")?;
                let path = self.path()?;
                return Ok(Interp::Reference(Reference::Local { name, path }));
            }
            "each" => {
                let at = self.pos;
                let field = match self.identifier() {
                    Some("key") => EachField::Key,
                    Some("value") => EachField::Value,
                    _ => return Err(error("expected `each.key` or `each.value`", at)),
                };
                let path = self.path()?;
                return Ok(Interp::Reference(Reference::Each { field, path }));
            }
            _ => {}
        }
        let type_name = if first == "data" {
            let data_type = self.required_identifier("a data source type after `data.`")?;
            if self.peek() != Some(b'.') {
                return Err(error(
                    format!("`data.{data_type}` needs a name: `data.{data_type}.NAME.ATTRIBUTE`"),
                    start,
                ));
            }
            self.pos += 1;
            format!("data.{data_type}")
        } else {
            first
        };
        let name = self.required_identifier("a resource name after the type")?;
        let instance = if self.peek() == Some(b'[') {
            Some(self.bracket()?)
        } else {
            None
        };
        let attr = if self.peek() == Some(b'.') {
            self.pos += 1;
            Some(self.required_identifier("an attribute name")?)
        } else {
            None
        };
        let path = self.path()?;
        Ok(Interp::Reference(Reference::Resource {
            addr: ResourceAddr::new(type_name, name),
            instance,
            attr,
            path,
        }))
    }

    /// `split(",", var.x)[0]`, `(var.a ? var.m : var.n).key`: a path after a call or a
    /// parenthesised expression.
    fn indexed(&mut self, target: Interp) -> Result<Interp, ParseError> {
        let path = self.path()?;
        if path.is_empty() {
            return Ok(target);
        }
        Ok(Interp::Index {
            target: Box::new(target),
            path,
        })
    }

    /// `.key`, `["key"]`, `[0]`, `[EXPR]` and `[*]` after a reference. No whitespace is
    /// allowed before a `.` so `a.b.c .d` is an error rather than a surprise.
    fn path(&mut self) -> Result<Vec<PathSegment>, ParseError> {
        let mut path = Vec::new();
        loop {
            match self.peek() {
                Some(b'.') => {
                    self.pos += 1;
                    path.push(PathSegment::Key(
                        self.required_identifier("a key after `.`")?,
                    ));
                }
                Some(b'[') => path.push(self.bracket()?),
                _ => return Ok(path),
            }
        }
    }

    /// One `[...]`: a literal key or index, the splat `[*]`, or any expression.
    fn bracket(&mut self) -> Result<PathSegment, ParseError> {
        self.pos += 1;
        let segment = if self.eat("*") {
            PathSegment::Splat
        } else {
            match self.expression()? {
                Interp::Literal(Value::String(key)) => PathSegment::Key(key),
                Interp::Literal(Value::Int(index)) if index >= 0 => {
                    PathSegment::Index(usize::try_from(index).unwrap_or(usize::MAX))
                }
                other => PathSegment::Expr(Box::new(other)),
            }
        };
        self.expect_token("]", "to close `[`")?;
        Ok(segment)
    }

    /// A double-quoted string with `\"`, `\\`, `\n` and `\t` escapes.
    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.text[self.pos..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, other)) => out.push(other),
                    None => break,
                },
                other => out.push(other),
            }
        }
        Err(error("unterminated string literal", start))
    }

    fn number(&mut self) -> Result<Interp, ParseError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit() || c == b'.') {
            self.pos += 1;
        }
        let literal = &self.text[start..self.pos];
        if let Ok(int) = literal.parse::<i64>() {
            return Ok(Interp::Literal(Value::Int(int)));
        }
        literal
            .parse::<f64>()
            .map(|float| Interp::Literal(Value::Float(float)))
            .map_err(|_| error(format!("`{literal}` is not a number"), start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interp(text: &str) -> Interp {
        match parse_string(text) {
            Ok(ExprKind::Interpolation(interp)) => *interp,
            other => panic!("expected one interpolation from {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn plain_strings_and_escapes_stay_literal() {
        assert!(
            matches!(parse_string("plain"), Ok(ExprKind::Literal(Value::String(s))) if s == "plain")
        );
        assert!(
            matches!(parse_string("cost $5 and $${var.x}"), Ok(ExprKind::Literal(Value::String(s))) if s == "cost $5 and ${var.x}")
        );
        assert!(
            matches!(parse_string(""), Ok(ExprKind::Literal(Value::String(s))) if s.is_empty())
        );
    }

    #[test]
    fn references_with_paths() {
        let Interp::Reference(Reference::Resource {
            addr,
            instance,
            attr,
            path,
        }) = interp("${aws_subnet.private.tags[\"Name\"].x[0]}")
        else {
            panic!("not a resource reference");
        };
        assert_eq!(addr, ResourceAddr::new("aws_subnet", "private"));
        assert_eq!(instance, None);
        assert_eq!(attr.as_deref(), Some("tags"));
        assert_eq!(
            path,
            vec![
                PathSegment::Key("Name".into()),
                PathSegment::Key("x".into()),
                PathSegment::Index(0)
            ]
        );
        assert!(matches!(
            interp("${ var.region }"),
            Interp::Reference(Reference::Variable { name, path }) if name == "region" && path.is_empty()
        ));
    }

    #[test]
    fn templates_split_text_and_interpolations() {
        let Ok(ExprKind::Template(parts)) = parse_string("http://${var.host}:${var.port}/") else {
            panic!("not a template");
        };
        assert_eq!(parts.len(), 5);
        assert!(matches!(&parts[0], TemplatePart::Text(t) if t == "http://"));
        assert!(matches!(&parts[4], TemplatePart::Text(t) if t == "/"));
    }

    #[test]
    fn operators_bind_in_the_usual_order() {
        let parsed = interp("${var.a == \"x\" || !var.b && var.c ? 1 : -2.5}");
        let Interp::Conditional {
            condition,
            then,
            otherwise,
        } = parsed
        else {
            panic!("not a conditional");
        };
        assert!(matches!(
            *condition,
            Interp::Binary {
                op: BinaryOp::Or,
                ..
            }
        ));
        if let Interp::Binary { rhs, .. } = *condition {
            assert!(matches!(
                *rhs,
                Interp::Binary {
                    op: BinaryOp::And,
                    ..
                }
            ));
        }
        assert!(matches!(*then, Interp::Literal(Value::Int(1))));
        assert!(matches!(*otherwise, Interp::Literal(Value::Float(f)) if f == -2.5));
    }

    #[test]
    fn calls_nest_and_strings_may_hold_braces() {
        let Interp::Call { function, args } = interp("${join(\"}\", split(\",\", var.list))}")
        else {
            panic!("not a call");
        };
        assert_eq!(function, "join");
        assert_eq!(args.len(), 2);
        assert!(matches!(&args[0], Interp::Literal(Value::String(s)) if s == "}"));
    }

    #[test]
    fn list_and_map_literals() {
        let Interp::Call { args, .. } =
            interp("${merge(var.tags, { Name = \"x\", \"k-2\": [1, var.y,] })}")
        else {
            panic!("not a call");
        };
        let Interp::Map(map) = &args[1] else {
            panic!("not a map")
        };
        assert!(matches!(&map["Name"], Interp::Literal(Value::String(s)) if s == "x"));
        assert!(matches!(&map["k-2"], Interp::List(items) if items.len() == 2));
        assert!(matches!(interp("${[]}"), Interp::List(items) if items.is_empty()));
        assert!(parse_string("${[1 2]}").is_err());
        assert!(parse_string("${{a 1}}").is_err());
    }

    #[test]
    fn malformed_interpolations_point_at_the_problem() {
        assert_eq!(
            parse_string("ab${var.x").map(|_| ()),
            Err(error("unterminated `${`: expected `}`", 2))
        );
        assert_eq!(
            parse_string("${}").map(|_| ()).map_err(|e| e.offset),
            Err(2)
        );
        assert_eq!(
            parse_string("${var.x #}").map(|_| ()).map_err(|e| e.offset),
            Err(8)
        );
        assert_eq!(
            parse_string("${var.x +}").map(|_| ()).map_err(|e| e.offset),
            Err(9)
        );
        assert_eq!(
            parse_string("${var.}").map(|_| ()).map_err(|e| e.offset),
            Err(6)
        );
        assert_eq!(
            parse_string("${join(1 2)}")
                .map(|_| ())
                .map_err(|e| e.offset),
            Err(9)
        );
        assert!(parse_string("${\"open}").is_err());
        let unknown = parse_string("${lowr(var.x)}").map_err(|e| e.message);
        assert_eq!(
            unknown.map(|_| ()),
            Err("unknown function `lowr`; did you mean `lower`?".to_owned())
        );
    }

    /// Issue 11: 4,000 levels of `(` or `upper(` overflowed the stack. Every way of
    /// nesting stops at [`MAX_DEPTH`] with an error at the level that is one too deep.
    #[test]
    fn nesting_is_bounded_and_the_error_points_at_the_level_too_deep() {
        let forms: [(&str, &str, &str); 6] = [
            ("(", "\"x\"", ")"),
            ("upper(", "\"x\"", ")"),
            ("[", "1", "]"),
            ("{a=", "1", "}"),
            ("!", "true", ""),
            ("true?", "1", ":2"),
        ];
        for (open, inner, close) in forms {
            let nested = |levels: usize| {
                format!(
                    "${{{}{inner}{}}}",
                    open.repeat(levels),
                    close.repeat(levels)
                )
            };
            assert!(
                parse_string(&nested(MAX_DEPTH - 1)).is_ok(),
                "{open}: {MAX_DEPTH} levels parse"
            );
            for levels in [MAX_DEPTH, 5_000] {
                let err = parse_string(&nested(levels)).map(|_| ());
                assert_eq!(
                    err.as_ref().map_err(|e| e.message.as_str()),
                    Err("expression nested too deeply: at most 64 levels"),
                    "{open} x {levels}"
                );
                assert_eq!(
                    err.map_err(|e| e.offset),
                    Err(2 + open.len() * MAX_DEPTH),
                    "{open}"
                );
            }
        }
    }

    /// `a == b == c ...` builds a tree as deep as the chain without recursing in the
    /// parser; the chain counts against the same limit.
    #[test]
    fn operator_chains_count_as_nesting() {
        for op in [" == ", " != ", " && ", " || "] {
            let chain = |links: usize| format!("${{true{}}}", format!("{op}true").repeat(links));
            assert!(parse_string(&chain(MAX_DEPTH - 1)).is_ok(), "{op}");
            assert!(
                parse_string(&chain(100_000))
                    .is_err_and(|e| e.message.contains("nested too deeply")),
                "{op}"
            );
        }
        let sibling_chains = format!("${{[{}]}}", vec!["1 == 1 == 1"; 1000].join(", "));
        assert!(parse_string(&sibling_chains).is_ok());
    }
}
