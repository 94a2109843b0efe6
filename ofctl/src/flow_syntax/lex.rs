//! Splitting flow text into `key=value` pairs as `ovs-ofctl` does.
//!
//! A pair is `key`, `key=value`, `key:value` or `key(value)`. Pairs are
//! separated by commas or white space. A value after `=` or `:` runs to the
//! next separator outside parentheses, so `write_actions(output:1,drop)`
//! stays one value; a value after `(` runs to the matching `)`, and a
//! following `->dst` (as in `load(1->reg0)`) joins it.

/// One `key[=value]` pair, borrowing from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair<'a> {
    /// The key.
    pub key: &'a str,
    /// The value (empty for a bare key).
    pub value: &'a str,
    /// Whether the value was written in parentheses.
    pub parens: bool,
}

const SEPARATORS: &[u8] = b", \t\r\n";

/// Length of a value starting at `s`, ending at any byte of `delims` that is
/// outside parentheses (or at an unmatched parenthesis's end of input).
fn value_len(s: &[u8], delims: &[u8]) -> usize {
    let mut n = 0;
    let mut depth = 0usize;
    while n < s.len() {
        let c = s[n];
        if depth == 0 && delims.contains(&c) {
            return n;
        }
        match c {
            b'(' => depth += 1,
            b')' if depth > 0 => depth -= 1,
            _ => {}
        }
        n += 1;
    }
    n
}

/// An iterator over the pairs of a flow text.
#[derive(Clone, Debug)]
pub struct Pairs<'a> {
    rest: &'a str,
}

/// The pairs of `s`.
pub fn pairs(s: &str) -> Pairs<'_> {
    Pairs { rest: s }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = Pair<'a>;

    fn next(&mut self) -> Option<Pair<'a>> {
        let s = self.rest.trim_start_matches([',', ' ', '\t', '\r', '\n']);
        if s.is_empty() {
            self.rest = s;
            return None;
        }
        let b = s.as_bytes();
        let key_len = b
            .iter()
            .position(|c| b":=(, \t\r\n".contains(c))
            .unwrap_or(b.len());
        let key = &s[..key_len];
        let delim = b.get(key_len).copied();
        let after = &s[(key_len + usize::from(delim.is_some())).min(s.len())..];
        let (value, rest, parens) = match delim {
            Some(b'=' | b':') => {
                let n = value_len(after.as_bytes(), SEPARATORS);
                (&after[..n], &after[n..], false)
            }
            Some(b'(') => {
                // Up to the matching parenthesis.
                let ab = after.as_bytes();
                let mut depth = 1usize;
                let mut n = 0;
                while n < ab.len() {
                    match ab[n] {
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    n += 1;
                }
                let mut value_end = n;
                let mut rest_start = (n + 1).min(ab.len());
                if ab.get(n + 1..n + 3) == Some(b"->") {
                    let m = value_len(&ab[n..], SEPARATORS);
                    value_end = n + m;
                    rest_start = value_end;
                }
                (&after[..value_end], &after[rest_start..], true)
            }
            _ => ("", after, false),
        };
        self.rest = rest;
        Some(Pair { key, value, parens })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &str) -> Vec<(&str, &str)> {
        pairs(s).map(|p| (p.key, p.value)).collect()
    }

    #[test]
    fn pairs_split_on_commas_and_spaces() {
        assert_eq!(
            all("priority=10, ip nw_dst=1.2.3.4,,tcp"),
            vec![
                ("priority", "10"),
                ("ip", ""),
                ("nw_dst", "1.2.3.4"),
                ("tcp", "")
            ]
        );
    }

    #[test]
    fn values_keep_parenthesised_commas() {
        assert_eq!(
            all("write_actions(output:1,drop),controller(max_len=5),output:2"),
            vec![
                ("write_actions", "output:1,drop"),
                ("controller", "max_len=5"),
                ("output", "2")
            ]
        );
        assert_eq!(all("x=a(b,c)d,e"), vec![("x", "a(b,c)d"), ("e", "")]);
    }

    #[test]
    fn arrow_after_parentheses_joins_the_value() {
        assert_eq!(all("load(1->reg0),x"), vec![("load", "1->reg0"), ("x", "")]);
        assert_eq!(all("f(1)->y,x"), vec![("f", "1)->y"), ("x", "")]);
    }

    #[test]
    fn unbalanced_parentheses_never_panic() {
        assert_eq!(all("a(b"), vec![("a", "b")]);
        assert_eq!(all("a=((("), vec![("a", "(((")]);
        assert_eq!(all("a=)"), vec![("a", ")")]);
        assert_eq!(all("é=1"), vec![("é", "1")]);
    }
}
