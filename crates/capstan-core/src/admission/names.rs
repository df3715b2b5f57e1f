//! Name syntax as Kubernetes checks it: DNS-1123 labels and subdomains, qualified names (label and
//! annotation keys) and label values. Each check returns `None` when the text is valid, or the reason
//! it is not, in Kubernetes' words.

/// Longest DNS-1123 label (namespaces, container names).
pub const DNS1123_LABEL_MAX: usize = 63;
/// Longest DNS-1123 subdomain (most object names, key prefixes).
pub const DNS1123_SUBDOMAIN_MAX: usize = 253;
/// Longest label value and name part of a qualified name.
pub const QUALIFIED_NAME_MAX: usize = 63;

fn lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// Why `s` is not a DNS-1123 label (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters).
pub fn dns1123_label_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("must be non-empty".to_owned());
    }
    if s.len() > DNS1123_LABEL_MAX {
        return Some(format!("must be no more than {DNS1123_LABEL_MAX} characters"));
    }
    let b = s.as_bytes();
    let ok = b.iter().all(|&c| lower_alnum(c) || c == b'-') && lower_alnum(b[0]) && lower_alnum(b[b.len() - 1]);
    (!ok).then(|| {
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must \
         start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc')"
            .to_owned()
    })
}

/// Why `s` is not a DNS-1123 subdomain (dot-separated DNS-1123 labels, at most 253 characters).
pub fn dns1123_subdomain_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("must be non-empty".to_owned());
    }
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        return Some(format!("must be no more than {DNS1123_SUBDOMAIN_MAX} characters"));
    }
    let ok = s.split('.').all(|part| {
        let b = part.as_bytes();
        !b.is_empty()
            && b.iter().all(|&c| lower_alnum(c) || c == b'-')
            && lower_alnum(b[0])
            && lower_alnum(b[b.len() - 1])
    });
    (!ok).then(|| {
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and \
         must start and end with an alphanumeric character (e.g. 'example.com')"
            .to_owned()
    })
}

/// Whether `s` is `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?` (the name part of a qualified name, and
/// a non-empty label value).
fn is_qualified_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// Why `s` is not a qualified name (`[prefix/]name`; label and annotation keys).
pub fn qualified_name_problem(s: &str) -> Option<String> {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(p) = prefix {
        if p.is_empty() {
            return Some("prefix part must be non-empty".to_owned());
        }
        if let Some(why) = dns1123_subdomain_problem(p) {
            return Some(format!("prefix part {why}"));
        }
    }
    if name.is_empty() {
        return Some("name part must be non-empty".to_owned());
    }
    if name.len() > QUALIFIED_NAME_MAX {
        return Some(format!(
            "name part must be no more than {QUALIFIED_NAME_MAX} characters"
        ));
    }
    (!is_qualified_part(name)).then(|| {
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an \
         alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc')"
            .to_owned()
    })
}

/// Why `s` is not a label value (empty, or at most 63 characters of the qualified-name alphabet).
pub fn label_value_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return None;
    }
    if s.len() > QUALIFIED_NAME_MAX {
        return Some(format!("must be no more than {QUALIFIED_NAME_MAX} characters"));
    }
    (!is_qualified_part(s)).then(|| {
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and \
         must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345')"
            .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels_are_lowercase_alphanumerics_and_inner_dashes() {
        for ok in ["a", "my-app", "123-abc", &"a".repeat(63)] {
            assert_eq!(dns1123_label_problem(ok), None, "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a.b", "a_b", &"a".repeat(64)] {
            assert!(dns1123_label_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn dns_subdomains_allow_dots_between_labels() {
        for ok in ["a", "example.com", "my-app.v1", &"a".repeat(253)] {
            assert_eq!(dns1123_subdomain_problem(ok), None, "{ok}");
        }
        for bad in ["", ".a", "a.", "a..b", "A.b", "a_b", &"a".repeat(254)] {
            assert!(dns1123_subdomain_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn qualified_names_take_an_optional_subdomain_prefix() {
        for ok in ["app", "App_1.x", "example.com/app", "k8s.io/My-Name"] {
            assert_eq!(qualified_name_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "/app",
            "example.com/",
            "Example.com/app",
            "a/b/c",
            "_app",
            &"a".repeat(64),
        ] {
            assert!(qualified_name_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn label_values_may_be_empty_but_not_malformed() {
        assert_eq!(label_value_problem(""), None);
        assert_eq!(label_value_problem("v1.2_x-Y"), None);
        assert!(label_value_problem("-v").is_some());
        assert!(label_value_problem("a b").is_some());
        assert!(label_value_problem(&"v".repeat(64)).is_some());
    }
}
