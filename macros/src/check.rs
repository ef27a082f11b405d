//! Rules the arguments must follow beyond their syntax: attribute key spelling, deprecated
//! semantic-convention keys, keys recorded twice.

use std::collections::HashSet;

use syn::Ident;

use crate::args::{AttributeKey, TracedArgs};
use crate::errors::Errors;
use crate::semconv_deprecated::DEPRECATED_KEYS;

const KEY_SHAPE: &str = "keys are dot-separated segments of `a-z`, `0-9` and `_`, like `http.route`";

/// Checks every attribute of `#[traced(...)]`, reporting all problems at once.
pub(crate) fn traced_args(args: &TracedArgs) -> syn::Result<()> {
    let mut errors = Errors::default();
    if let (Some(_), Some(root)) = (&args.parent, &args.root) {
        let message = "`root` and `parent` cannot be used together: `root` starts a new trace, \
                       `parent = ..` continues the given one";
        errors.push(syn::Error::new(root.span(), message));
    }
    let mut seen = HashSet::new();
    for attribute in &args.attributes {
        let key = &attribute.key;
        let text = key.text();
        if let Err(error) = attribute_key(key, &text) {
            errors.push(error);
        } else if !seen.insert(text.clone()) {
            errors.push(syn::Error::new_spanned(key, format!("attribute `{text}` is recorded twice")));
        }
    }
    errors.finish(())
}

/// A bare name in `attributes(..)` stands for a parameter: say so when there is none of that name,
/// rather than let the compiler look for a value in scope.
pub(crate) fn bare_names_are_parameters(args: &TracedArgs, function: &str, parameters: &[Ident]) -> syn::Result<()> {
    let mut errors = Errors::default();
    let listed = parameters.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ");
    let known = if listed.is_empty() { "it has none".to_owned() } else { format!("its parameters are {listed}") };
    let bare = args.attributes.iter().filter(|attribute| attribute.bare);
    for name in bare.filter_map(|attribute| attribute.key.bare_name()).filter(|name| !parameters.contains(name)) {
        let hint = format!("record another value with `{name} = <expression>`");
        let message = format!("`{name}` is not a parameter of `{function}` ({known}); {hint}");
        errors.push(syn::Error::new(name.span(), message));
    }
    errors.finish(())
}

/// A key is well formed and not a deprecated semantic-convention key.
fn attribute_key(key: &AttributeKey, text: &str) -> syn::Result<()> {
    if let Some((offset, problem)) = key_problem(text) {
        return Err(syn::Error::new(key.span_at(offset), problem));
    }
    if let Some(advice) = reserved(text) {
        let message =
            format!("attribute key `{text}` is in the `otel.` namespace, which OpenTelemetry reserves; {advice}");
        return Err(syn::Error::new_spanned(key, message));
    }
    match deprecation(text) {
        Some("") => Err(syn::Error::new_spanned(key, format!("`{text}` is deprecated"))),
        Some(advice) => Err(syn::Error::new_spanned(key, format!("`{text}` is deprecated; {advice}"))),
        None => Ok(()),
    }
}

/// What is wrong with the spelling of `key`, and the byte offset where it shows.
fn key_problem(key: &str) -> Option<(usize, String)> {
    if key.is_empty() {
        return Some((0, "attribute key must not be empty".to_owned()));
    }
    if let Some(at) = key.find(char::is_whitespace) {
        return Some((at, format!("attribute key `{key}` contains whitespace; {KEY_SHAPE}")));
    }
    if let Some(at) = key.find(|c: char| !is_key_char(c)) {
        let lowercase = key.to_lowercase();
        if lowercase.chars().all(is_key_char) {
            return Some((at, format!("attribute key `{key}` must be lowercase: `{lowercase}`")));
        }
        let found = key[at..].chars().next().unwrap_or_default();
        return Some((at, format!("attribute key `{key}` contains `{found}`; {KEY_SHAPE}")));
    }
    if key.starts_with('.') {
        return Some((0, format!("attribute key `{key}` starts with a dot")));
    }
    if key.ends_with('.') {
        return Some((key.len() - 1, format!("attribute key `{key}` ends with a dot")));
    }
    // The second dot of `..` is where the missing segment should be.
    key.find("..").map(|at| (at + 1, format!("attribute key `{key}` has an empty segment between two dots")))
}

/// Keys of the `otel.` namespace are the specification's own (`otel.status_code`, `otel.scope.name`):
/// refused, with the option that sets what they mean when there is one.
fn reserved(key: &str) -> Option<&'static str> {
    let advice = match key.strip_prefix("otel.")? {
        "kind" | "span_kind" => "set the span kind with `kind = server` (or `client`, `producer`, ...)",
        "name" => "set the span name with `name = \"...\"`",
        "status_code" | "status_description" => {
            "the status is set for you: ERROR when the function returns `Err` or panics"
        }
        _ => "choose a key outside it",
    };
    Some(advice)
}

fn is_key_char(c: char) -> bool {
    matches!(c, 'a'..='z' | '0'..='9' | '_' | '.')
}

/// The advice for a deprecated semantic-convention key (empty when the conventions give none).
fn deprecation(key: &str) -> Option<&'static str> {
    DEPRECATED_KEYS
        .binary_search_by(|(deprecated, _)| (*deprecated).cmp(key))
        .ok()
        .map(|index| DEPRECATED_KEYS[index].1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn messages(tokens: proc_macro2::TokenStream) -> Vec<String> {
        let args: TracedArgs = syn::parse2(tokens).expect("the arguments parse");
        match traced_args(&args) {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|error| error.to_string()).collect(),
        }
    }

    #[test]
    fn well_formed_keys_pass() {
        for key in ["item.id", "demo.io_delay_seconds", "http.route", "a", "k8s.pod.name", "x_1.2y"] {
            assert_eq!(key_problem(key), None, "{key}");
        }
    }

    #[test]
    fn each_malformed_key_names_its_problem_where_it_shows() {
        let problem = |key| key_problem(key).map(|(at, message)| (at, message.split(';').next().map(str::to_owned)));
        assert_eq!(problem(""), Some((0, Some("attribute key must not be empty".to_owned()))));
        assert_eq!(problem("http route"), Some((4, Some("attribute key `http route` contains whitespace".to_owned()))));
        assert_eq!(
            problem("item.Id"),
            Some((5, Some("attribute key `item.Id` must be lowercase: `item.id`".to_owned())))
        );
        assert_eq!(problem("item-id"), Some((4, Some("attribute key `item-id` contains `-`".to_owned()))));
        assert_eq!(problem(".item"), Some((0, Some("attribute key `.item` starts with a dot".to_owned()))));
        assert_eq!(problem("item."), Some((4, Some("attribute key `item.` ends with a dot".to_owned()))));
        assert_eq!(
            problem("item..id"),
            Some((5, Some("attribute key `item..id` has an empty segment between two dots".to_owned())))
        );
    }

    #[test]
    fn deprecated_keys_name_their_replacement() {
        assert_eq!(deprecation("http.method"), Some("use `http.request.method`"));
        assert_eq!(deprecation("http.status_code"), Some("use `http.response.status_code`"));
        assert_eq!(deprecation("http.url"), Some("use `url.full`"));
        assert_eq!(
            deprecation("net.peer.name"),
            Some("use `server.address` on client spans and `client.address` on server spans")
        );
        assert_eq!(deprecation("http.target"), Some("split to `url.path` and `url.query`"));
        assert_eq!(deprecation("http.request.method"), None);
    }

    #[test]
    fn keys_moved_to_another_registry_are_not_deprecated() {
        assert_eq!(deprecation("gen_ai.request.model"), None);
    }

    #[test]
    fn root_and_parent_exclude_each_other() {
        assert_eq!(
            messages(quote!(parent = cx, root)),
            ["`root` and `parent` cannot be used together: `root` starts a new trace, `parent = ..` continues the given one"]
        );
    }

    #[test]
    fn the_otel_namespace_is_reserved() {
        assert_eq!(
            messages(quote!(attributes(otel.kind = "server", "otel.status_code" = 1, otel.scope.name = "x", otel = 1))),
            [
                "attribute key `otel.kind` is in the `otel.` namespace, which OpenTelemetry reserves; \
                 set the span kind with `kind = server` (or `client`, `producer`, ...)",
                "attribute key `otel.status_code` is in the `otel.` namespace, which OpenTelemetry reserves; \
                 the status is set for you: ERROR when the function returns `Err` or panics",
                "attribute key `otel.scope.name` is in the `otel.` namespace, which OpenTelemetry reserves; \
                 choose a key outside it",
            ]
        );
        assert_eq!(reserved("otelx.kind"), None);
        assert_eq!(reserved("my.otel.kind"), None);
    }

    #[test]
    fn the_table_is_sorted_for_binary_search() {
        assert!(DEPRECATED_KEYS.windows(2).all(|pair| pair[0].0 < pair[1].0));
    }

    #[test]
    fn bare_names_must_be_parameters() {
        let args: TracedArgs = syn::parse2(quote!(attributes(id, item_id, other = 1))).expect("the arguments parse");
        let id = Ident::new("id", proc_macro2::Span::call_site());
        let error = bare_names_are_parameters(&args, "load", &[id]).expect_err("`item_id` is no parameter");
        assert_eq!(
            error.to_string(),
            "`item_id` is not a parameter of `load` (its parameters are `id`); record another value with `item_id = <expression>`"
        );
        let error = bare_names_are_parameters(&args, "load", &[]).expect_err("no parameters at all");
        assert!(error.to_string().contains("(it has none)"));
    }

    #[test]
    fn every_problem_of_the_list_is_reported() {
        assert_eq!(
            messages(quote!(attributes(Item = 1, http.method = 2, ok = 3, ok = 4))),
            [
                "attribute key `Item` must be lowercase: `item`",
                "`http.method` is deprecated; use `http.request.method`",
                "attribute `ok` is recorded twice",
            ]
        );
    }
}
