//! The `assert:` mini-language: `count == before - 1`, `uid1 != uid2`. Variables are
//! named bare (no braces) so `pop3spec check` can tell which ones a step reads.

use super::template::Vars;
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub struct Assertion {
    pub source: String,
    left: Side,
    op: Op,
    right: Side,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        })
    }
}

/// A sum of terms: `a`, `a - 1`, `a + b - 2`.
#[derive(Clone, Debug, PartialEq)]
struct Side {
    terms: Vec<(i64, Term)>,
}

#[derive(Clone, Debug, PartialEq)]
enum Term {
    Int(i64),
    Var(String),
    Str(String),
}

/// The values on both sides, for the failure message.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluated {
    pub holds: bool,
    pub left: String,
    pub right: String,
}

impl Assertion {
    pub fn parse(source: &str) -> Result<Assertion, String> {
        let ops = [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("<", Op::Lt),
            (">", Op::Gt),
        ];
        let (at, text, op) = ops
            .iter()
            .filter_map(|(t, op)| outside_quotes_find(source, t).map(|i| (i, *t, *op)))
            .min_by_key(|(i, t, _)| (*i, usize::MAX - t.len()))
            .ok_or_else(|| {
                "an assertion compares two sides with ==, !=, <, <=, > or >=".to_string()
            })?;
        let left = parse_side(&source[..at])?;
        let right = parse_side(&source[at + text.len()..])?;
        Ok(Assertion {
            source: source.trim().to_string(),
            left,
            op,
            right,
        })
    }

    pub fn variables(&self) -> Vec<&str> {
        self.left
            .terms
            .iter()
            .chain(&self.right.terms)
            .filter_map(|(_, t)| match t {
                Term::Var(v) => Some(v.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn evaluate(&self, vars: &Vars) -> Result<Evaluated, String> {
        let l = eval_side(&self.left, vars)?;
        let r = eval_side(&self.right, vars)?;
        let holds = match (&l, &r) {
            (Val::Int(a), Val::Int(b)) => match self.op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Lt => a < b,
                Op::Le => a <= b,
                Op::Gt => a > b,
                Op::Ge => a >= b,
            },
            _ => match self.op {
                Op::Eq => l.to_string() == r.to_string(),
                Op::Ne => l.to_string() != r.to_string(),
                op => {
                    return Err(format!(
                        "`{op}` compares numbers, but `{l}` or `{r}` is not a number"
                    ))
                }
            },
        };
        Ok(Evaluated {
            holds,
            left: l.to_string(),
            right: r.to_string(),
        })
    }
}

enum Val {
    Int(i64),
    Str(String),
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Int(i) => write!(f, "{i}"),
            Val::Str(s) => write!(f, "{s}"),
        }
    }
}

fn eval_side(side: &Side, vars: &Vars) -> Result<Val, String> {
    let values: Vec<(i64, String)> = side
        .terms
        .iter()
        .map(|(sign, t)| {
            let text = match t {
                Term::Int(i) => i.to_string(),
                Term::Str(s) => s.clone(),
                Term::Var(v) => vars
                    .get(v)
                    .map(|v| v.text.clone())
                    .ok_or_else(|| format!("variable `{v}` is not defined at this step"))?,
            };
            Ok((*sign, text))
        })
        .collect::<Result<_, String>>()?;
    if values.len() == 1 && values[0].0 == 1 {
        let text = &values[0].1;
        return Ok(match text.trim().parse::<i64>() {
            Ok(i) => Val::Int(i),
            Err(_) => Val::Str(text.clone()),
        });
    }
    let mut sum: i64 = 0;
    for (sign, text) in values {
        let n: i64 = text.trim().parse().map_err(|_| {
            format!("`{text}` is not a number, so it cannot be added or subtracted")
        })?;
        sum = sum
            .checked_add(sign * n)
            .ok_or_else(|| "integer overflow in assertion".to_string())?;
    }
    Ok(Val::Int(sum))
}

fn outside_quotes_find(s: &str, needle: &str) -> Option<usize> {
    let mut in_quotes = false;
    let bytes = s.as_bytes();
    for i in 0..bytes.len() {
        if bytes[i] == b'"' {
            in_quotes = !in_quotes;
        } else if !in_quotes && bytes[i..].starts_with(needle.as_bytes()) {
            return Some(i);
        }
    }
    None
}

fn parse_side(s: &str) -> Result<Side, String> {
    let mut terms = Vec::new();
    let mut rest = s.trim();
    let mut sign = 1;
    if rest.is_empty() {
        return Err("a side of the comparison is empty".into());
    }
    loop {
        let (term, after) = if let Some(stripped) = rest.strip_prefix('"') {
            let end = stripped
                .find('"')
                .ok_or_else(|| "unterminated string literal".to_string())?;
            (Term::Str(stripped[..end].to_string()), &stripped[end + 1..])
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '+' || c == '-')
                .unwrap_or(rest.len());
            let word = &rest[..end];
            let term = if let Ok(i) = word.parse::<i64>() {
                Term::Int(i)
            } else if !word.is_empty()
                && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !word.starts_with(|c: char| c.is_ascii_digit())
            {
                Term::Var(word.to_string())
            } else {
                return Err(format!(
                    "`{word}` is not a number, a variable or a \"string\""
                ));
            };
            (term, &rest[end..])
        };
        terms.push((sign, term));
        rest = after.trim_start();
        if rest.is_empty() {
            break;
        }
        sign = match rest.as_bytes()[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return Err(format!("expected + or - before `{rest}`")),
        };
        rest = rest[1..].trim_start();
        if rest.is_empty() {
            return Err("the comparison ends with an operator".into());
        }
    }
    Ok(Side { terms })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::template::Value;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    Value {
                        text: v.to_string(),
                        secret: false,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn non_ascii_text_is_an_error_not_a_panic() {
        // Found by tests/loader_properties.rs: a multi-byte character before an
        // operator used to be sliced through the middle.
        assert!(Assertion::parse("\u{fffd}elected == listed").is_err());
        assert!(Assertion::parse("\"\u{e9}\" == \"\u{e9}\"").is_ok());
    }

    #[test]
    fn arithmetic_and_strings() {
        let v = vars(&[("count", "2"), ("before", "3"), ("a", "x1"), ("b", "x2")]);
        assert!(
            Assertion::parse("count == before - 1")
                .unwrap()
                .evaluate(&v)
                .unwrap()
                .holds
        );
        assert!(
            !Assertion::parse("count == before")
                .unwrap()
                .evaluate(&v)
                .unwrap()
                .holds
        );
        assert!(
            Assertion::parse("a != b")
                .unwrap()
                .evaluate(&v)
                .unwrap()
                .holds
        );
        assert!(
            Assertion::parse("a == \"x1\"")
                .unwrap()
                .evaluate(&v)
                .unwrap()
                .holds
        );
        assert!(
            Assertion::parse("count <= 2")
                .unwrap()
                .evaluate(&v)
                .unwrap()
                .holds
        );
        assert!(
            !Assertion::parse("count >= 3")
                .unwrap()
                .evaluate(&v)
                .unwrap()
                .holds
        );
        assert!(Assertion::parse("a < 3").unwrap().evaluate(&v).is_err());
    }

    #[test]
    fn parse_errors_and_variables() {
        assert!(Assertion::parse("count").is_err());
        assert!(Assertion::parse("count == ").is_err());
        assert!(Assertion::parse("count == x$").is_err());
        let a = Assertion::parse("after == before - 1 + n").unwrap();
        assert_eq!(a.variables(), vec!["after", "before", "n"]);
        let e = a.evaluate(&vars(&[("after", "1")])).unwrap_err();
        assert!(e.contains("before"), "{e}");
    }
}
