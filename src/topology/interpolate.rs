//! `${VAR}` and `${VAR:-default}` in topology files, so one file serves every environment and
//! secrets stay out of it. Substitution happens inside string values after parsing, so error
//! positions still point into the file as written, and a value can never change the file's
//! structure.

/// Replaces `${VAR}` (must be set), `${VAR:-default}` (default when unset or empty) and
/// `$$` (a literal `$`). Errors say which variable and how to fix it.
pub fn interpolate(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    if !text.contains('$') {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                return Err(format!(
                    "`${{` without a closing `}}` in \"{text}\"; write ${{VAR}}, or $$ for a literal $"
                ));
            };
            let expression = &body[..end];
            let (name, default) = match expression.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (expression, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "`${{{expression}}}` is not a variable reference; names use letters, digits and _"
                ));
            }
            match (
                env(name).filter(|v| !v.is_empty() || default.is_none()),
                default,
            ) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => {
                    return Err(format!(
                        "environment variable {name} is not set; set it, or give a default with ${{{name}:-value}}"
                    ));
                }
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "LAKE" => Some("/data/lake".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_variables_and_defaults() {
        assert_eq!(
            interpolate("${LAKE}/pin", &env).as_deref(),
            Ok("/data/lake/pin")
        );
        assert_eq!(
            interpolate("${MISSING:-lake}/pin", &env).as_deref(),
            Ok("lake/pin")
        );
        assert_eq!(
            interpolate("${LAKE:-lake}", &env).as_deref(),
            Ok("/data/lake")
        );
        assert_eq!(
            interpolate("${EMPTY:-fallback}", &env).as_deref(),
            Ok("fallback")
        );
        assert_eq!(interpolate("${EMPTY}", &env).as_deref(), Ok(""));
        assert_eq!(interpolate("${MISSING:-}", &env).as_deref(), Ok(""));
    }

    #[test]
    fn dollars_without_braces_are_literal() {
        assert_eq!(
            interpolate("cost $5 and $$HOME", &env).as_deref(),
            Ok("cost $5 and $HOME")
        );
        assert_eq!(interpolate("plain", &env).as_deref(), Ok("plain"));
    }

    #[test]
    fn errors_say_how_to_fix() {
        let unset = interpolate("${MISSING}/x", &env).unwrap_err();
        assert!(unset.contains("MISSING is not set"), "{unset}");
        assert!(unset.contains("${MISSING:-value}"), "{unset}");
        assert!(
            interpolate("${LAKE", &env)
                .unwrap_err()
                .contains("without a closing")
        );
        assert!(
            interpolate("${A B}", &env)
                .unwrap_err()
                .contains("not a variable reference")
        );
        assert!(
            interpolate("${}", &env)
                .unwrap_err()
                .contains("not a variable reference")
        );
    }
}
